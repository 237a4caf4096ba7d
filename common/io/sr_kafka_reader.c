/* common/io/sr_kafka_reader.c - group-less reading: watermarks, waiting
 * for a stable partition, reading a partition from its beginning
 * (restores), and the readers that follow partitions (the gateway's
 * projection and reply feeds). */
#include "sr_kafka_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_model.h"

/* @p isolation NULL: the conf's (read_committed unless set otherwise: the
 * high end is then the last stable offset). */
static sr_err_t watermarks(const sr_conf_t *conf, sr_topic_kind_t topic,
                           int32_t partition, const char *isolation,
                           int64_t *low, int64_t *high, int timeout_ms,
                           sr_errctx_t *ec)
{
        char name[TOPIC_NAME_MAX];
        kafka_handle_t h = { 0 };
        rd_kafka_conf_t *kc;
        rd_kafka_resp_err_t kerr;
        rd_kafka_t *rk = NULL;
        int64_t lo, hi;
        sr_err_t err;

        sr_kafka_topic_name(conf, topic, name, sizeof(name));
        kc = sr_kafka__conf_copy(conf, &h);
        if (!kc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        if (isolation && (err = sr_kafka__conf_put(kc, "isolation.level",
                                                   isolation,
                                         ec))) {
                rd_kafka_conf_destroy(kc);
                return err;
        }
        err = sr_kafka__handle_new(RD_KAFKA_CONSUMER, kc, &rk, ec);
        if (err)
                return err;
        kerr = rd_kafka_query_watermark_offsets(rk, name, partition, &lo, &hi,
                                                timeout_ms);
        if (kerr) /* serve the error events: a refused authentication */
                rd_kafka_poll(rk, 0);
        rd_kafka_destroy(rk);
        if (kerr && sr_kafka__auth_check(&h, "watermarks", ec))
                return SR_ERR_AUTH; /* retrying would not heal it */
        if (kerr) {
                err = sr_kafka__kafka_err(ec, kerr, "watermarks", NULL);
                sr_errctx_prefix(ec, "%s [%d]", name, (int)partition);
                return err;
        }
        *low = lo;
        *high = hi;
        return SR_OK;
}

sr_err_t sr_kafka_watermarks(const sr_conf_t *conf, sr_topic_kind_t topic,
                             int32_t partition, int64_t *low, int64_t *high,
                             int timeout_ms, sr_errctx_t *ec)
{
        return watermarks(conf, topic, partition, NULL, low, high, timeout_ms,
                          ec);
}

sr_err_t sr_kafka_wait_stable(const sr_conf_t *conf, sr_topic_kind_t topic,
                              int32_t partition, int timeout_ms,
                              sr_errctx_t *ec)
{
        int64_t deadline = sr_clock_mono_ms() + timeout_ms, lo, hw, lso;
        sr_err_t err;

        for (;;) {
                err = watermarks(conf, topic, partition, "read_uncommitted",
                                 &lo, &hw, 10000, ec);
                if (!err)
                        err = watermarks(conf, topic, partition,
                                         "read_committed", &lo, &lso, 10000,
                                         ec);
                if (err)
                        return err;
                if (lso >= hw)
                        return SR_OK;
                if (sr_clock_mono_ms() >= deadline) /* 0: one look */
                        return sr_errctx_set(ec, SR_ERR_RETRY,
                                             "kafka: %s partition %d: a "
                                             "transaction is still open "
                                             "(stable offset %" PRId64
                                             ", end %" PRId64 ")",
                                             sr_topic_suffix(topic),
                                             (int)partition, lso, hw);
                usleep(100 * 1000);
        }
}

/* Learn the topic's leaders before assigning: assigned without them, the
 * consumer retries its first offset lookup only after ~500 ms. Failure is
 * harmless (the consumer finds them itself, later). */
void sr_kafka__warm_metadata(rd_kafka_t *rk, const char *name)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);

        if (!rkt)
                return;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
}

static sr_err_t reader_new(const sr_conf_t *conf, const char *name,
                           int32_t partition, rd_kafka_t **rkp,
                           sr_errctx_t *ec)
{
        /* rd_kafka_assign() needs a group, not a membership: a random,
         * never-joined group id keeps readers from touching real groups. */
        char group[64], id[SR_UUID_STR_LEN + 1], kbytes[16];
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t kerr;
        rd_kafka_conf_t *kc;
        sr_uuid_t u;
        sr_err_t err;

        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, id);
        snprintf(group, sizeof(group), "sr-reader-%s", id);
        snprintf(kbytes, sizeof(kbytes), "%d", conf->restore_buffer_mb * 1024);
        kc = sr_kafka__conf_copy(conf, NULL);
        if (!kc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        if ((err = sr_kafka__conf_put(kc, "group.id", group, ec)) ||
            (err = sr_kafka__conf_put(kc, "enable.auto.commit", "false", ec)) ||
            (err = sr_kafka__conf_put(kc, "enable.auto.offset.store", "false",
                                      ec)) ||
            (err = sr_kafka__conf_put(kc, "enable.partition.eof", "true",
                                      ec)) ||
            (err = sr_kafka__conf_put(kc, "auto.offset.reset", "earliest",
                                      ec)) ||
            /* A reader's first fetch can meet a transient error (its
             * partition just assigned); the default 500 ms back-off then
             * stalled a restore for half a second. */
            (err = sr_kafka__conf_default(kc, "fetch.error.backoff.ms", "20",
                                          ec)) ||
            /* A reader reads a partition from its start as fast as it can
             * (a restore). librdkafka 2.0.2 stops fetching once its queue
             * holds queued.min.messages (100,000) records and does not
             * look again the moment the reader drains it: a restore of a
             * 1M-record changelog partition ran in bursts, stalled about
             * half of the time, at ~160k records/s. The count no longer
             * binds; queued.max.messages.kbytes still bounds the
             * memory (tests/bench/README.md, "Restore on the real
             * broker": 315k records/s). */
            (err = sr_kafka__conf_default(kc, "queued.min.messages",
                                          "10000000", ec)) ||
            /* ...and the byte bound is its own: restore.buffer.mb, not
             * the consumer's 64 MB, which stalled the restore next
             * (332k-443k records/s against 531k-560k with 256 MB, same
             * partition, ABBA: tests/bench/README.md). */
            (err = sr_kafka__conf_put(kc, "queued.max.messages.kbytes",
                                      kbytes, ec))) {
                rd_kafka_conf_destroy(kc);
                return err;
        }
        err = sr_kafka__handle_new(RD_KAFKA_CONSUMER, kc, rkp, ec);
        if (err)
                return err;
        rd_kafka_poll_set_consumer(*rkp);
        sr_kafka__warm_metadata(*rkp, name);
        list = rd_kafka_topic_partition_list_new(1);
        /* Offset 0, not BEGINNING: no offset lookup before the first fetch
         * (one that meets a leader not connected yet is retried only after
         * 500 ms). A log that no longer starts at 0 answers out of range,
         * and auto.offset.reset=earliest takes over. */
        rd_kafka_topic_partition_list_add(list, name, partition)->offset = 0;
        kerr = rd_kafka_assign(*rkp, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (kerr) {
                rd_kafka_destroy(*rkp);
                return sr_kafka__kafka_err(ec, kerr, "assign", NULL);
        }
        return SR_OK;
}

struct sr_part_reader {
        rd_kafka_t *rk;
        char name[TOPIC_NAME_MAX];
        sr_topic_kind_t topic;
        int32_t partition;
        int64_t end_offset;
        int64_t last; /* offset of the last record handed out, -1 */
        bool done;
};

sr_err_t sr_part_reader_new(const sr_conf_t *conf, sr_topic_kind_t topic,
                            int32_t partition, int64_t end_offset,
                            sr_part_reader_t **rp, sr_errctx_t *ec)
{
        sr_part_reader_t *r = calloc(1, sizeof(*r));
        sr_err_t err;

        if (!r)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: part reader");
        r->topic = topic;
        r->partition = partition;
        r->end_offset = end_offset;
        r->last = -1;
        r->done = end_offset <= 0;
        sr_kafka_topic_name(conf, topic, r->name, sizeof(r->name));
        if (!r->done) {
                err = reader_new(conf, r->name, partition, &r->rk, ec);
                if (err) {
                        free(r);
                        return err;
                }
        }
        *rp = r;
        return SR_OK;
}

void sr_part_reader_destroy(sr_part_reader_t *r)
{
        if (!r)
                return;
        /* A reader never joined its group and commits nothing: closing
         * the consumer would only wait on the group coordinator. */
        if (r->rk)
                rd_kafka_destroy_flags(r->rk,
                                       RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        free(r);
}

int64_t sr_part_reader_last(const sr_part_reader_t *r)
{
        return r->last;
}

sr_err_t sr_part_reader_step(sr_part_reader_t *r, sr_kafka_read_cb cb,
                             void *arg, int budget_ms, uint64_t *n_read,
                             bool *done, sr_errctx_t *ec)
{
        int64_t deadline = sr_clock_mono_ms() +
                           (budget_ms < 0 ? 0 : budget_ms);
        rd_kafka_message_t *m;
        sr_inrec_t rec;
        sr_err_t err = SR_OK;
        uint64_t n = 0;

        while (!r->done && !err) {
                int left = sr_kafka__remaining_ms(deadline);

                if (left == 0)
                        break; /* a step ends within its budget */
                m = rd_kafka_consumer_poll(r->rk, left < 100 ? left : 100);
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* Compaction may have removed the record at
                         * end_offset - 1: the end of the log says enough. */
                        r->done = m->offset >= r->end_offset;
                } else if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                           m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                           m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
                        err = sr_kafka__kafka_err(ec, m->err, "read",
                                        rd_kafka_message_errstr(m));
                        sr_errctx_prefix(ec, "%s [%d]", r->name,
                                         (int)r->partition);
                } else if (m->err) {
                        SR_WARN("KAFKA", "read: %s topic=%s partition=%d",
                                rd_kafka_message_errstr(m), r->name,
                                (int)r->partition);
                        if (rd_kafka_fatal_error(r->rk, NULL, 0))
                                err = sr_kafka__fatal_err(ec, r->rk, "read");
                } else if (m->offset >= r->end_offset) {
                        r->done = true;
                } else {
                        sr_kafka__fill_inrec(&rec, m, (int)r->topic);
                        r->last = m->offset;
                        n++;
                        if (cb(&rec, arg))
                                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                                    "kafka read %s [%d]: "
                                                    "stopped by callback at "
                                                    "offset %" PRId64,
                                                    r->name,
                                                    (int)r->partition,
                                                    r->last);
                        else
                                r->done = r->last >= r->end_offset - 1;
                }
                rd_kafka_message_destroy(m);
        }
        if (n_read)
                *n_read = n;
        *done = r->done && !err;
        return err;
}

/* Read (topic, partition) up to @p end_offset; give up @p timeout_ms after
 * the start, or with @p stall after the last record. */
static sr_err_t read_partition(const sr_conf_t *conf, sr_topic_kind_t topic,
                               int32_t partition, int64_t end_offset,
                               sr_kafka_read_cb cb, void *arg, int timeout_ms,
                               bool stall, sr_errctx_t *ec)
{
        int64_t deadline = sr_clock_mono_ms() +
                           (timeout_ms < 0 ? 0 : timeout_ms);
        sr_part_reader_t *r = NULL;
        sr_err_t err;
        bool done = false;

        err = sr_part_reader_new(conf, topic, partition, end_offset, &r, ec);
        while (!err && !done) {
                int left = sr_kafka__remaining_ms(deadline);
                uint64_t n = 0;

                if (left == 0) {
                        err = sr_errctx_set(ec, SR_ERR_RETRY,
                                            "kafka read %s [%d]: %s %d ms "
                                            "at offset %" PRId64 " of %"
                                            PRId64, r->name, (int)partition,
                                            stall ? "no record for" :
                                                    "timed out after",
                                            timeout_ms, r->last, end_offset);
                        break;
                }
                err = sr_part_reader_step(r, cb, arg, left < 100 ? left : 100,
                                          &n, &done, ec);
                if (stall && n)
                        deadline = sr_clock_mono_ms() + timeout_ms;
        }
        sr_part_reader_destroy(r);
        return err;
}

sr_err_t sr_kafka_read_partition(const sr_conf_t *conf, sr_topic_kind_t topic,
                                 int32_t partition, int64_t end_offset,
                                 sr_kafka_read_cb cb, void *arg,
                                 int timeout_ms, sr_errctx_t *ec)
{
        return read_partition(conf, topic, partition, end_offset, cb, arg,
                              timeout_ms, false, ec);
}

sr_err_t sr_kafka_read_partition_all(const sr_conf_t *conf,
                                     sr_topic_kind_t topic, int32_t partition,
                                     int64_t end_offset, sr_kafka_read_cb cb,
                                     void *arg, int stall_ms,
                                     sr_errctx_t *ec)
{
        return read_partition(conf, topic, partition, end_offset, cb, arg,
                              stall_ms, true, ec);
}

sr_err_t sr_kafka_partitions(const sr_conf_t *conf, sr_topic_kind_t topic,
                             int32_t *n, int timeout_ms, sr_errctx_t *ec)
{
        const struct rd_kafka_metadata *md = NULL;
        char name[TOPIC_NAME_MAX];
        kafka_handle_t h = { 0 };
        rd_kafka_topic_t *rkt;
        rd_kafka_resp_err_t kerr;
        rd_kafka_conf_t *kc;
        rd_kafka_t *rk = NULL;
        sr_err_t err;

        sr_kafka_topic_name(conf, topic, name, sizeof(name));
        kc = sr_kafka__conf_copy(conf, &h);
        if (!kc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        /* a consumer: its metadata requests never create the topic */
        err = sr_kafka__handle_new(RD_KAFKA_CONSUMER, kc, &rk, ec);
        if (err)
                return err;
        rkt = rd_kafka_topic_new(rk, name, NULL);
        kerr = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) :
                     RD_KAFKA_RESP_ERR__FAIL;
        if (kerr) /* serve the error events: a refused authentication */
                rd_kafka_poll(rk, 0);
        if (kerr && sr_kafka__auth_check(&h, "metadata", ec))
                err = SR_ERR_AUTH; /* retrying would not heal it */
        else if (kerr)
                err = sr_kafka__kafka_err(ec, kerr, "metadata", name);
        else if (md->topic_cnt != 1 || md->topics[0].err)
                err = sr_errctx_set(ec, SR_ERR_NOT_FOUND, "topic %s: %s",
                                    name, md->topic_cnt != 1 ?
                                    "no metadata" :
                                    rd_kafka_err2str(md->topics[0].err));
        else
                *n = md->topics[0].partition_cnt;
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return err;
}

/* ------------------------------------------------------------ reader */

struct sr_reader {
        kafka_handle_t h; /* first: the librdkafka opaque */
        rd_kafka_t *rk;
        char names[SR_TOPIC__COUNT][TOPIC_NAME_MAX];
        rd_kafka_message_t **held;
        int n_held, cap_held;
};

sr_err_t sr_reader_new(const sr_conf_t *conf, const sr_reader_part_t *parts,
                       int n, sr_reader_t **rp, sr_errctx_t *ec)
{
        char group[64], id[SR_UUID_STR_LEN + 1];
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t kerr;
        rd_kafka_conf_t *kc;
        sr_reader_t *r;
        sr_uuid_t u;
        sr_err_t err;

        r = calloc(1, sizeof(*r));
        if (!r)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: reader");
        for (int t = 0; t < SR_TOPIC__COUNT; t++)
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, r->names[t],
                                    sizeof(r->names[t]));
        /* rd_kafka_assign() needs a group id, not a membership. */
        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, id);
        snprintf(group, sizeof(group), "sr-reader-%s", id);
        kc = sr_kafka__conf_copy(conf, r);
        if (!kc) {
                free(r);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        }
        if ((err = sr_kafka__conf_put(kc, "group.id", group, ec)) ||
            (err = sr_kafka__conf_put(kc, "enable.auto.commit", "false", ec)) ||
            (err = sr_kafka__conf_put(kc, "enable.auto.offset.store", "false",
                                      ec)) ||
            (err = sr_kafka__conf_put(kc, "auto.offset.reset", "earliest",
                                      ec))) {
                rd_kafka_conf_destroy(kc);
                free(r);
                return err;
        }
        err = sr_kafka__handle_new(RD_KAFKA_CONSUMER, kc, &r->rk, ec);
        if (err) {
                free(r);
                return err;
        }
        rd_kafka_poll_set_consumer(r->rk);
        list = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
        for (int i = 0; i < n; i++) {
                int64_t off = parts[i].offset;

                if (i == 0 || parts[i].topic != parts[i - 1].topic)
                        sr_kafka__warm_metadata(r->rk,
                                                r->names[parts[i].topic]);
                rd_kafka_topic_partition_list_add(list,
                                                  r->names[parts[i].topic],
                                                  parts[i].partition)
                        ->offset = off == SR_READER_BEGINNING ?
                                           RD_KAFKA_OFFSET_BEGINNING :
                                   off == SR_READER_END ?
                                           RD_KAFKA_OFFSET_END :
                                           off;
        }
        kerr = rd_kafka_assign(r->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (kerr) {
                rd_kafka_destroy(r->rk);
                free(r);
                return sr_kafka__kafka_err(ec, kerr, "assign", NULL);
        }
        *rp = r;
        return SR_OK;
}

static void reader_release(sr_reader_t *r)
{
        for (int i = 0; i < r->n_held; i++)
                rd_kafka_message_destroy(r->held[i]);
        r->n_held = 0;
}

void sr_reader_destroy(sr_reader_t *r)
{
        if (!r)
                return;
        reader_release(r);
        free(r->held);
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
        free(r);
}

sr_err_t sr_reader_poll(sr_reader_t *r, sr_inrec_t *out, int max, int *n,
                        int timeout_ms, sr_errctx_t *ec)
{
        int got = 0;

        reader_release(r);
        if (max > r->cap_held) {
                rd_kafka_message_t **h = realloc(r->held,
                                                 (size_t)max * sizeof(*h));

                if (!h)
                        return sr_errctx_set(ec, SR_ERR_FATAL,
                                             "kafka: reader buffers");
                r->held = h;
                r->cap_held = max;
        }
        while (got < max) {
                rd_kafka_message_t *m =
                        rd_kafka_consumer_poll(r->rk, got ? 0 : timeout_ms);
                int kind = -1;

                if (!m)
                        break;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                SR_WARN("KAFKA", "reader: %s",
                                        rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        if (rd_kafka_fatal_error(r->rk, NULL, 0))
                                return sr_kafka__fatal_err(ec, r->rk, "reader");
                        continue;
                }
                for (int t = 0; t < SR_TOPIC__COUNT && kind < 0; t++)
                        if (!strcmp(r->names[t], rd_kafka_topic_name(m->rkt)))
                                kind = t;
                r->held[r->n_held++] = m;
                sr_kafka__fill_inrec(&out[got++], m, kind < 0 ? 0 : kind);
        }
        *n = got;
        return SR_OK;
}

sr_err_t sr_reader_ping(sr_reader_t *r, int timeout_ms, sr_errctx_t *ec)
{
        return sr_kafka__metadata_ping(r->rk, timeout_ms, ec);
}

bool sr_reader_all_brokers_down(sr_reader_t *r, char *why, size_t why_size)
{
        if (!r->h.all_down)
                return false;
        r->h.all_down = false;
        snprintf(why, why_size, "%s", r->h.all_down_why);
        return true;
}

int64_t sr_reader_lag(sr_reader_t *r, sr_topic_kind_t topic)
{
        rd_kafka_topic_partition_list_t *asg = NULL;
        int64_t lag = 0;

        if (rd_kafka_assignment(r->rk, &asg) || !asg)
                return -1;
        if (rd_kafka_position(r->rk, asg)) {
                rd_kafka_topic_partition_list_destroy(asg);
                return -1;
        }
        for (int i = 0; i < asg->cnt && lag >= 0; i++) {
                rd_kafka_topic_partition_t *tp = &asg->elems[i];
                int64_t low, high;

                if (strcmp(tp->topic, r->names[topic]))
                        continue;
                if (rd_kafka_get_watermark_offsets(r->rk, tp->topic,
                                                   tp->partition, &low,
                                                   &high) ||
                    high < 0) {
                        lag = -1;
                        break;
                }
                /* No position yet: nothing returned since the start. */
                lag += high - (tp->offset >= 0 ? tp->offset : low);
        }
        rd_kafka_topic_partition_list_destroy(asg);
        return lag;
}
