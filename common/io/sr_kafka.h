/* common/io/sr_kafka.h - the Kafka boundary (librdkafka inside), by role:
 * producer (sr_kafka_producer.c), group consumer (sr_kafka_consumer.c),
 * readers (sr_kafka_reader.c), topic creation (sr_kafka_admin.c), the
 * embedded mock cluster (sr_kafka_mock.c), codes and configuration
 * (sr_kafka.c).
 *
 * The only module that calls librdkafka (sr_conf only holds the opaque
 * conf handle its kafka.* keys build); this header shows no librdkafka
 * type. Codes are mapped to sr_err_t here (transient ones to
 * SR_ERR_RETRY). Handles are used by one thread at a time (the worker's
 * poll thread), except where a function says otherwise. Create them after
 * fork().
 */
#ifndef SR_KAFKA_H
#define SR_KAFKA_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_conf.h"
#include "sr_err.h"
#include "sr_outbox.h"
#include "sr_slice.h"

/* ------------------------------------------------------------ producer */

typedef struct sr_producer sr_producer_t;

/**
 * @brief An idempotent producer (enable.idempotence=true, acks=all,
 * partitioner=murmur2_random so keys land where Java clients put them) on a
 * copy of conf->kafka.
 * @param[out] pp caller owns; sr_producer_destroy().
 * @returns SR_OK, SR_ERR_KAFKA, SR_ERR_NOMEM.
 */
sr_err_t sr_producer_new(const sr_conf_t *conf, const char *client_id,
                         sr_producer_t **pp, sr_errctx_t *ec);

/**
 * @brief A transactional producer (processing.guarantee=exactly_once):
 * like sr_producer_new() with transactional.id @p txn_id, then
 * init_transactions (bounded by @p timeout_ms). Every send must then be
 * inside sr_producer_txn_begin() .. sr_producer_txn_commit().
 * @returns SR_OK, SR_ERR_KAFKA, SR_ERR_RETRY (no coordinator in time),
 *          SR_ERR_FATAL, SR_ERR_NOMEM.
 */
sr_err_t sr_producer_new_txn(const sr_conf_t *conf, const char *client_id,
                             const char *txn_id, int timeout_ms,
                             sr_producer_t **pp, sr_errctx_t *ec);

/** @brief True for a producer made by sr_producer_new_txn(). */
bool sr_producer_is_txn(const sr_producer_t *p);

/** @returns SR_OK, SR_ERR_FATAL (fenced or fatal), SR_ERR_KAFKA. */
sr_err_t sr_producer_txn_begin(sr_producer_t *p, sr_errctx_t *ec);

struct sr_consumer;
/**
 * @brief Add the consumer's next offsets to the open transaction: they are
 * committed with it (as one with the records), fenced by the consumer's
 * group generation.
 * @returns SR_OK, SR_ERR_RETRY (the transaction must be aborted and
 *          redone), SR_ERR_FATAL.
 */
sr_err_t sr_producer_txn_offsets(sr_producer_t *p, struct sr_consumer *c,
                                 const sr_topic_kind_t *topics,
                                 const int32_t *parts, const int64_t *offsets,
                                 int n, int timeout_ms, sr_errctx_t *ec);

/**
 * @brief Commit the open transaction (flushes every record first; delivery
 * reports are served). On an abortable error the transaction is aborted.
 * @returns SR_OK; SR_ERR_RETRY: nothing of it is visible to read_committed
 *          readers, redo it in a new transaction; SR_ERR_FATAL (fenced).
 */
sr_err_t sr_producer_txn_commit(sr_producer_t *p, int timeout_ms,
                                sr_errctx_t *ec);

/** @brief Abort the open transaction. @returns SR_OK, SR_ERR_FATAL. */
sr_err_t sr_producer_txn_abort(sr_producer_t *p, int timeout_ms,
                               sr_errctx_t *ec);

/** @brief Flush (bounded by 10 s), then free. NULL ok. */
void sr_producer_destroy(sr_producer_t *p);

/**
 * @brief Enqueue one record to prefix+sr_topic_suffix(rec->topic).
 * The record's bytes are copied. Delivery is tracked: see sr_producer_wait().
 * Blocks (serving delivery reports) while the local queue is full.
 * @returns SR_OK, SR_ERR_TOO_LARGE (over kafka.message.max.bytes:
 *          sr_budget_wire_size()), SR_ERR_KAFKA (another refusal),
 *          SR_ERR_FATAL.
 */
sr_err_t sr_producer_send(sr_producer_t *p, const sr_outrec_t *rec,
                          sr_errctx_t *ec);

/**
 * @brief Wait until every record sent so far has a delivery report.
 * @returns SR_OK when all were acknowledged; SR_ERR_RETRY when some failed
 *          for a transient reason or @p timeout_ms passed (the caller
 *          re-sends: duplicates are harmless by design); SR_ERR_TOO_LARGE
 *          or SR_ERR_KAFKA when the broker refused a record itself
 *          (MSG_SIZE_TOO_LARGE; INVALID_RECORD...: sending it again fails
 *          again until the broker's or topic's configuration changes),
 *          SR_ERR_FATAL on a
 *          fatal producer error. The failure counters are reset on return.
 */
sr_err_t sr_producer_wait(sr_producer_t *p, int timeout_ms, sr_errctx_t *ec);

/**
 * @brief Highest offset acknowledged so far for (topic, partition), or -1.
 * Used to learn the changelog end offset a snapshot matches.
 */
int64_t sr_producer_acked_offset(const sr_producer_t *p, sr_topic_kind_t t,
                                 int32_t partition);

/**
 * @brief How many acknowledgements for (topic, partition) were not for the
 * offset right after the previous acknowledged one: records of another
 * producer landed between two of ours (or a record reported failed had
 * landed after all). The changelog's fence (docs/guarantee.md, "Fencing").
 */
uint64_t sr_producer_acked_gaps(const sr_producer_t *p, sr_topic_kind_t t,
                                int32_t partition);

/** @brief Serve delivery reports without blocking. */
void sr_producer_poll(sr_producer_t *p);

/** @brief Records sent and not yet reported. */
uint64_t sr_producer_outstanding(const sr_producer_t *p);

/* ------------------------------------------------------------ consumer */

typedef struct sr_consumer sr_consumer_t;

/** What a record's timestamp is. */
typedef enum sr_ts_type {
        SR_TS_NONE = 0,
        SR_TS_CREATE,     /* set by the producer */
        SR_TS_LOG_APPEND, /* set by the broker */
} sr_ts_type_t;

/** One consumed record; borrowed: valid until the next sr_consumer_poll()
 *  or sr_consumer_destroy(). */
typedef struct sr_inrec {
        sr_topic_kind_t topic; /* which of the subscribed topics */
        int32_t partition;
        int64_t offset;
        int64_t timestamp; /* ms (create or log-append time) */
        sr_ts_type_t timestamp_type;
        sr_slice_t key;
        sr_slice_t value; /* ptr NULL for a tombstone */
        const void *msg;  /* the rd_kafka_message_t, for headers */
} sr_inrec_t;

/** on_assign's start offset of a partition to assign paused: the owner
 *  starts it later with sr_consumer_start() (a restore in the meantime). */
#define SR_CONSUMER_PAUSED (-2)

/**
 * Rebalance hooks, called from inside sr_consumer_poll() on the polling
 * thread. on_assign returns, per partition, the offset to start from
 * (-1: the committed offset, or earliest when none; SR_CONSUMER_PAUSED for
 * both topics: assigned but paused); it must not block for long (the group
 * waits, and so does max.poll.interval.ms). on_revoke must stop using the
 * partitions before returning; a revoked partition is no longer paused.
 */
typedef struct sr_consumer_hooks {
        void (*on_assign)(void *arg, const int32_t *parts, int n,
                          int64_t *start_offsets /* [n][2]: commands,
                                                    results */);
        void (*on_revoke)(void *arg, const int32_t *parts, int n);
        void *arg;
} sr_consumer_hooks_t;

/**
 * @brief A group consumer (group.id from conf, enable.auto.commit=false,
 * auto.offset.reset=earliest, partition.assignment.strategy=range so the
 * same partition of every subscribed topic goes to the same member)
 * subscribed to the given topics.
 * @param hooks may be NULL (then the default assignment applies).
 */
sr_err_t sr_consumer_new(const sr_conf_t *conf, const char *group_id,
                         const sr_topic_kind_t *topics, int n_topics,
                         const sr_consumer_hooks_t *hooks,
                         sr_consumer_t **cp, sr_errctx_t *ec);

/** @brief Leave the group (close) and free. NULL ok. */
void sr_consumer_destroy(sr_consumer_t *c);

/**
 * @brief Fill @p out with up to @p max records, waiting at most
 * @p timeout_ms for the first. Records of the previous call are released.
 * @param[out] n number of records returned (0 on timeout).
 * @returns SR_OK, SR_ERR_FATAL. Transient broker errors are logged, not
 *          returned.
 */
sr_err_t sr_consumer_poll(sr_consumer_t *c, sr_inrec_t *out, int max,
                          int *n, int timeout_ms, sr_errctx_t *ec);

/** @brief Commit next-offsets for (topic, partition) pairs, without waiting
 *  for the broker (failures are logged when reported). */
sr_err_t sr_consumer_commit(sr_consumer_t *c, const sr_topic_kind_t *topics,
                            const int32_t *parts, const int64_t *offsets,
                            int n, sr_errctx_t *ec);

/**
 * @brief Start a partition assigned paused (SR_CONSUMER_PAUSED): seek each
 * topic to @p start ([0] commands, [1] results; -1: the committed offset,
 * or earliest when none), then resume it.
 * @returns SR_OK; SR_ERR_RETRY when the partition's fetcher has not
 *          started yet (the assignment is still settling: call again
 *          later), SR_ERR_KAFKA.
 */
sr_err_t sr_consumer_start(sr_consumer_t *c, int32_t part,
                           const int64_t start[2], sr_errctx_t *ec);

/**
 * @brief Ask the cluster for metadata through the consumer's connections.
 * @returns SR_OK when a broker answered within @p timeout_ms, else
 *          SR_ERR_RETRY. Blocks at most @p timeout_ms.
 */
sr_err_t sr_consumer_ping(sr_consumer_t *c, int timeout_ms, sr_errctx_t *ec);

/**
 * @brief The first offset partition @p part of @p topic still holds (its log
 * start: records before it were deleted by retention), asked through the
 * consumer's own connections. Blocks at most @p timeout_ms.
 * @returns SR_OK, SR_ERR_RETRY (no answer in time) or another class of
 *          librdkafka's error.
 */
sr_err_t sr_consumer_log_start(sr_consumer_t *c, sr_topic_kind_t topic,
                               int32_t part, int timeout_ms, int64_t *low,
                               sr_errctx_t *ec);

/**
 * @brief Input records deleted under this reader since the last call, by
 * hook column (commands, results; a consumer without hooks: its first two
 * topics), and zeroes them: offsets a record jumped past that the topic's
 * log start had passed too (the reader lagged behind its retention and
 * librdkafka went on from the log's start). Logged as an ERROR when seen.
 * What a partition's start skips is not counted here (a partition just
 * assigned or sought has no expected offset yet).
 */
void sr_consumer_take_lost(sr_consumer_t *c, uint64_t lost[2]);

/** @brief Consumer lag of the assigned partitions (sum), or -1 unknown. */
int64_t sr_consumer_lag(sr_consumer_t *c);

/** @brief Header value of a consumed record by name; false if absent. */
bool sr_inrec_header(const sr_inrec_t *rec, const char *name,
                     sr_slice_t *value);

/** @brief The @p i-th header of a consumed record, in record order
 *  (name NUL-terminated, value ptr NULL for a null value); false past the
 *  last. Both borrowed like the record. */
bool sr_inrec_header_at(const sr_inrec_t *rec, size_t i, const char **name,
                        sr_slice_t *value);

/* ------------------------------------------------------------ reading */

/**
 * @brief Low and high watermark of (topic, partition) from the broker.
 * @returns SR_OK, SR_ERR_RETRY (broker unreachable / timeout).
 */
sr_err_t sr_kafka_watermarks(const sr_conf_t *conf, sr_topic_kind_t topic,
                             int32_t partition, int64_t *low, int64_t *high,
                             int timeout_ms, sr_errctx_t *ec);

typedef int (*sr_kafka_read_cb)(const sr_inrec_t *rec, void *arg);

/**
 * @brief Wait until no transaction is open on (topic, partition): its last
 * stable offset reached its end. A transaction being committed when its
 * producer died still completes; one left open is aborted once its
 * transaction.timeout.ms has passed.
 * @p timeout_ms 0 looks once.
 * @returns SR_OK; SR_ERR_RETRY when @p timeout_ms passed; SR_ERR_KAFKA.
 */
sr_err_t sr_kafka_wait_stable(const sr_conf_t *conf, sr_topic_kind_t topic,
                              int32_t partition, int timeout_ms,
                              sr_errctx_t *ec);

/**
 * @brief Read (topic, partition) from its beginning up to (excluding)
 * @p end_offset with a group-less assigned consumer, calling @p cb for each
 * record in order. A non-zero return from @p cb stops with SR_ERR_INVALID.
 * @returns SR_OK, SR_ERR_RETRY (timeout), SR_ERR_KAFKA.
 */
sr_err_t sr_kafka_read_partition(const sr_conf_t *conf, sr_topic_kind_t topic,
                                 int32_t partition, int64_t end_offset,
                                 sr_kafka_read_cb cb, void *arg,
                                 int timeout_ms, sr_errctx_t *ec);

/**
 * @brief sr_kafka_read_partition() for a partition of any size: it gives
 * up only when no record arrived for @p stall_ms (sr-cli dump).
 * @returns SR_OK, SR_ERR_RETRY (stalled), SR_ERR_KAFKA, SR_ERR_INVALID
 *          (stopped by @p cb).
 */
sr_err_t sr_kafka_read_partition_all(const sr_conf_t *conf,
                                     sr_topic_kind_t topic, int32_t partition,
                                     int64_t end_offset, sr_kafka_read_cb cb,
                                     void *arg, int stall_ms,
                                     sr_errctx_t *ec);

/**
 * A reader of one partition from its beginning up to an end offset, a
 * step at a time: what a restore beside the poll loop uses
 * (sr_kafka_read_partition() is its loop).
 */
typedef struct sr_part_reader sr_part_reader_t;

/**
 * @brief Start reading (topic, partition) from offset 0 up to
 * @p end_offset (exclusive; <= 0: nothing to read).
 * @param[out] rp caller owns; sr_part_reader_destroy(). One thread at a
 *                time.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_KAFKA.
 */
sr_err_t sr_part_reader_new(const sr_conf_t *conf, sr_topic_kind_t topic,
                            int32_t partition, int64_t end_offset,
                            sr_part_reader_t **rp, sr_errctx_t *ec);
/** @brief Stop reading and free. NULL ok. */
void sr_part_reader_destroy(sr_part_reader_t *r);
/**
 * @brief Hand the next records to @p cb, in order, for at most about
 * @p budget_ms (waiting for records counts).
 * @param[out] n_read records handed to @p cb (NULL: not wanted).
 * @param[out] done true once the end offset is reached.
 * @returns SR_OK; SR_ERR_INVALID when @p cb returned non-zero;
 *          SR_ERR_KAFKA (no such partition), SR_ERR_FATAL.
 */
sr_err_t sr_part_reader_step(sr_part_reader_t *r, sr_kafka_read_cb cb,
                             void *arg, int budget_ms, uint64_t *n_read,
                             bool *done, sr_errctx_t *ec);
/** @brief Offset of the last record handed out, -1 before the first. */
int64_t sr_part_reader_last(const sr_part_reader_t *r);

/**
 * @brief How many partitions @p topic has, from the cluster's metadata.
 * @returns SR_OK, SR_ERR_NOT_FOUND (no such topic), SR_ERR_RETRY,
 *          SR_ERR_KAFKA.
 */
sr_err_t sr_kafka_partitions(const sr_conf_t *conf, sr_topic_kind_t topic,
                             int32_t *n, int timeout_ms, sr_errctx_t *ec);

/* ------------------------------------------------------------ reader */

typedef struct sr_reader sr_reader_t;

/** One (topic, partition) a reader follows, and where it starts. */
typedef struct sr_reader_part {
        sr_topic_kind_t topic;
        int32_t partition;
        int64_t offset; /* >= 0, or SR_READER_BEGINNING / SR_READER_END */
} sr_reader_part_t;

#define SR_READER_BEGINNING (-2)
#define SR_READER_END (-1)

/**
 * @brief A group-less consumer that follows the given partitions (the
 * gateway's projection and reply feeds). Offsets are never committed.
 * @param[out] rp caller owns; sr_reader_destroy(). One thread at a time.
 */
sr_err_t sr_reader_new(const sr_conf_t *conf, const sr_reader_part_t *parts,
                       int n, sr_reader_t **rp, sr_errctx_t *ec);
void sr_reader_destroy(sr_reader_t *r);

/**
 * @brief Up to @p max records, waiting at most @p timeout_ms for the first;
 * records of the previous call are released. Transient errors are logged.
 * @returns SR_OK or SR_ERR_FATAL.
 */
sr_err_t sr_reader_poll(sr_reader_t *r, sr_inrec_t *out, int max, int *n,
                        int timeout_ms, sr_errctx_t *ec);

/**
 * @brief Ask the cluster for metadata through the reader's connections
 * (the gateway's broker probe). Blocks at most @p timeout_ms.
 * @returns SR_OK when a broker answered in time, SR_ERR_RETRY otherwise,
 *          SR_ERR_FATAL.
 */
sr_err_t sr_reader_ping(sr_reader_t *r, int timeout_ms, sr_errctx_t *ec);

/**
 * @brief Did librdkafka report every broker connection of the reader down
 * (RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) since the last call? Reports are
 * taken in sr_reader_poll(). On true @p why gets librdkafka's text.
 */
bool sr_reader_all_brokers_down(sr_reader_t *r, char *why, size_t why_size);

/**
 * @brief Records of @p topic not yet returned by sr_reader_poll(), summed
 * over the reader's partitions of that topic, from the watermarks of the
 * last fetch responses (no request is sent). -1 until every such partition
 * was fetched once.
 */
int64_t sr_reader_lag(sr_reader_t *r, sr_topic_kind_t topic);

/** @brief prefix + suffix of @p t into @p out. */
void sr_kafka_topic_name(const sr_conf_t *conf, sr_topic_kind_t t, char *out,
                         size_t outsz);

/* ------------------------------------------------------------ admin */

/**
 * @brief On the cluster at @p bootstrap, create the project's topics that
 * are missing (@p partitions each, the broker's default replication
 * factor, sr.changelog compacted); existing topics are left as they are.
 * Returns once every partition of every topic has a leader that answers,
 * or after @p timeout_ms.
 * @returns SR_OK, SR_ERR_INVALID (bad bootstrap or topic name),
 *          SR_ERR_KAFKA (refused, or no leader in time), SR_ERR_NOMEM.
 */
sr_err_t sr_kafka_create_topics(const sr_conf_t *conf, const char *bootstrap,
                                int partitions, int timeout_ms,
                                sr_errctx_t *ec);

/**
 * @brief At start-up (docs/guarantee.md, "Retention"): ask the cluster of
 * @p conf (DescribeConfigs) for @c retention.ms of the input topics
 * (commands, results). A topic that keeps records longer than @p max_ms,
 * or for ever (-1), is a configuration error: a command re-read after its
 * run's marker was forgotten would create the run again. When the broker
 * does not tell (no answer within @p timeout_ms, an error, librdkafka's
 * mock cluster, which does not serve DescribeConfigs), a WARN says what
 * could not be checked and the check passes.
 * @returns SR_OK, SR_ERR_CONF (@p ec names the topic, its retention.ms and
 *          the key retention.inputs), SR_ERR_NOMEM, SR_ERR_KAFKA (no
 *          client handle).
 */
sr_err_t sr_kafka_check_input_retention(const sr_conf_t *conf, int64_t max_ms,
                                        int timeout_ms, sr_errctx_t *ec);

/* ------------------------------------------------------------ mock */

typedef struct sr_mock sr_mock_t;

/**
 * @brief Start librdkafka's mock cluster (@p brokers brokers) in this
 * process and create every project topic with @p partitions partitions
 * (replication 1). sr-dev and the integration tests own one each.
 * @param[out] mp caller owns; sr_mock_destroy().
 */
sr_err_t sr_mock_new(const sr_conf_t *conf, int brokers, int partitions,
                     sr_mock_t **mp, sr_errctx_t *ec);
/** @brief "host:port,..." of the mock brokers; borrowed, valid until
 *  destroy. */
const char *sr_mock_bootstraps(const sr_mock_t *m);
void sr_mock_destroy(sr_mock_t *m);

#endif /* SR_KAFKA_H */
