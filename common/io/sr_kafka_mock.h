/* common/io/sr_kafka_mock.h - tests only: the librdkafka mock cluster
 * behind an sr_mock_t, for fault injection (rd_kafka_mock_broker_set_down,
 * rd_kafka_mock_push_request_errors, ...). Production code uses sr_mock_t
 * through sr_kafka.h, which shows no librdkafka type; a test, being the
 * outside world, may drive the mock directly. */
#ifndef SR_KAFKA_MOCK_H
#define SR_KAFKA_MOCK_H

#include <librdkafka/rdkafka_mock.h>

#include "sr_kafka.h"

/** @brief The mock cluster of @p m; borrowed, valid until
 *  sr_mock_destroy(). */
rd_kafka_mock_cluster_t *sr_mock_cluster(sr_mock_t *m);

#endif /* SR_KAFKA_MOCK_H */
