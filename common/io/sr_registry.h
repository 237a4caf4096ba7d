/* common/io/sr_registry.h - our schemas in an external Confluent-compatible
 * schema registry (schema.registry.url; docs/schemas.md, "An external
 * registry").
 *
 * At start-up each process POSTs every built-in schema to
 * <url>/subjects/<topic.prefix><topic>-value/versions (TopicNameStrategy,
 * the subjects of the gateway's read API), every version of a subject in
 * order, oldest first (commands: version 1, id 1, then version 2, id 7;
 * the changelog: id 4, then id 8). The registry answers the id it holds
 * the schema under, the same one every time (idempotent); the
 * process then writes and accepts those ids instead of the built-in ones
 * (sr_codec_set_ids()). Plain http only, no TLS, no authentication in this
 * version.
 *
 * Thread-safe: no shared state.
 */
#ifndef SR_REGISTRY_H
#define SR_REGISTRY_H

#include <stdbool.h>

#include "sr_codec.h"
#include "sr_err.h"
#include "sr_outbox.h"

/* Each topic whose value is one of our schemas, and that schema; sorted by
 * subject name for a prefix that is the same for all. */
typedef struct sr_registry_subject {
        sr_topic_kind_t topic;
        sr_schema_id_t schema;
} sr_registry_subject_t;

extern const sr_registry_subject_t sr_registry_subjects[];
#define SR_REGISTRY_N_SUBJECTS 7

#define SR_REGISTRY_HOST_MAX 256
#define SR_REGISTRY_PATH_MAX 1024

/* An http://host[:port][/path] URL, split. */
typedef struct sr_registry_url {
        char host[SR_REGISTRY_HOST_MAX]; /* name or IPv4 literal */
        int port;                        /* 80 when not given */
        char path[SR_REGISTRY_PATH_MAX]; /* "" or "/apis/ccompat/v7" (no
                                          * trailing '/') */
} sr_registry_url_t;

/**
 * @brief Split @p url (borrowed) into @p out.
 * @returns SR_OK or SR_ERR_CONF ("<why>", e.g. https is not supported).
 */
sr_err_t sr_registry_parse_url(const char *url, sr_registry_url_t *out,
                               sr_errctx_t *ec);

/**
 * @brief Register every built-in schema with the registry at @p url under
 * its subject "<topic_prefix><topic>-value", and fill @p ids with the ids
 * it answers.
 * @param url, topic_prefix borrowed.
 * @param wait_ms how long an unreachable or failing registry (no answer,
 *        connection refused, 5xx, 408, 429) is retried, with a growing
 *        pause, before giving up; each request times out within what is
 *        left of it, between 1 and 5 s (0: one try).
 * @param[out] ids set on SR_OK only.
 * @param[out] ec  optional; names the subject and quotes the registry's
 *        message.
 * @returns SR_OK;
 *          SR_ERR_CONF: the URL is malformed, or the registry refused a
 *          schema (409: incompatible with the subject's versions; 422:
 *          invalid; any other 4xx);
 *          SR_ERR_IO: still unreachable or failing after @p wait_ms;
 *          SR_ERR_CORRUPT: an answer that is not {"id": <1..2^31-1>}, or
 *          two of our schemas given one id;
 *          SR_ERR_NOMEM.
 */
sr_err_t sr_registry_register(const char *url, const char *topic_prefix,
                              int wait_ms, sr_schema_ids_t *ids,
                              sr_errctx_t *ec);

#endif /* SR_REGISTRY_H */
