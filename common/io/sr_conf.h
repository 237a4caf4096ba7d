/* common/io/sr_conf.h - the configuration of every worker, from one table.
 *
 * One table row per key (name, type, range, default, description) drives
 * parsing, defaults, error texts and --list-config, so they never disagree.
 * Every worker shares the table and ignores the keys it does not use.
 * "kafka.<prop>" keys go verbatim to librdkafka, which validates them.
 *
 * Sources, lowest precedence first: defaults, `-c FILE` ("key = value"
 * lines), the environment (SR_BATCH_SIZE=10 sets batch.size), `-D key=value`
 * flags. sr_conf_t is transparent and read-only once loaded: pass it on as
 * `const sr_conf_t *`; any thread may then read it.
 */
#ifndef SR_CONF_H
#define SR_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sr_codec.h"
#include "sr_err.h"
#include "sr_log.h"

/* librdkafka's type, declared here so users need not include rdkafka.h. */
struct rd_kafka_conf_s;

/* How sr-status makes its outputs and input offsets one (docs/guarantee.md). */
typedef enum sr_guarantee {
        SR_GUARANTEE_OUTBOX = 0,     /* LMDB outbox, idempotent producer */
        SR_GUARANTEE_EXACTLY_ONCE,   /* Kafka transactions */
        SR_GUARANTEE__COUNT
} sr_guarantee_t;

typedef struct sr_conf {
        char *worker_name;       /* worker.name: name in logs and metrics */
        sr_log_level_t log_level; /* log.level */
        char *topic_prefix;      /* topic.prefix: e.g. "sr." */
        int partitions;          /* partitions: count sr-dev creates */
        char *data_dir;          /* data.dir: LMDB directory */
        int store_map_size_mb;   /* store.map.size.mb */
        bool store_sync;         /* store.sync: fsync LMDB */
        int batch_size;          /* batch.size: records per batch */
        int poll_timeout_ms;     /* poll.timeout.ms */
        char *group_id;          /* group.id: sr-status consumer group */
        int http_port;           /* http.port: 0 = ephemeral */
        char *http_bind;         /* http.bind: address of the ops server */
        bool http_enable;        /* http.enable */
        int http_header_timeout_ms; /* http.header.timeout.ms */
        int http_body_timeout_ms;   /* http.body.timeout.ms */
        int restore_batch_size;  /* restore.batch.size */
        int restore_buffer_mb;   /* restore.buffer.mb */
        sr_guarantee_t processing_guarantee; /* processing.guarantee */
        int cache_entities;      /* cache.entities: 0 = no run cache */
        int cache_run_targets;   /* cache.run.targets */
        bool cache_verify;       /* cache.verify: check hits (tests) */
        int timer_resolution_ms; /* timer.resolution.ms */
        int agent_latency_ms;    /* agent.latency.ms */
        double agent_failure_rate; /* agent.failure.rate: 0..1 */
        int agent_seed;          /* agent.seed */
        char *agent_group_id;    /* agent.group.id */
        char *gateway_tokens_file;     /* gateway.tokens.file */
        bool gateway_registry_auth;    /* gateway.registry.auth: the
                                        * registry read API wants a token */
        int gateway_reply_timeout_ms;  /* gateway.reply.timeout.ms */
        int gateway_body_max_bytes;    /* gateway.body.max.bytes */
        int gateway_connections_max;   /* gateway.connections.max */
        int gateway_client_timeout_s;  /* gateway.client.timeout.s */
        char *gateway_public_url;      /* gateway.public.url: "" = links
                                        * relative to the server root */
        char *gateway_tls_cert_file;   /* gateway.tls.cert.file: "" =
                                        * plain HTTP */
        char *gateway_tls_key_file;    /* gateway.tls.key.file */
        char *gateway_tls_chain_file;  /* gateway.tls.chain.file */
        char *events_dataschema_base;  /* events.dataschema.base: "" =
                                        * gateway.public.url */
        char *schema_registry_url;     /* schema.registry.url: "" = the
                                        * built-in ids */
        int schema_registry_wait_ms;   /* schema.registry.wait.ms */
        int gateway_idempotency_ttl_s; /* gateway.idempotency.ttl.s */
        int gateway_idempotency_max_keys; /* gateway.idempotency.max.keys */
        int command_max_bytes;   /* command.max.bytes: input size budget */
        int run_max_stages;       /* run.max.stages */
        int stage_max_operations; /* stage.max.operations */
        int stage_max_targets;    /* stage.max.targets */
        int stage_chunk_targets;  /* stage.chunk.targets */
        int definition_chunk_targets; /* definition.chunk.targets */
        int gateway_bulk_max_items;   /* gateway.bulk.max.items */
        int gateway_bulk_max_bytes;   /* gateway.bulk.max.bytes */
        int64_t stage_fill_timeout_ms; /* stage.fill.timeout: 0 = none */
        int stage_step_targets;   /* stage.step.targets */
        int64_t retention_finished_ms; /* retention.finished: 0 = keep */
        int64_t retention_inputs_ms;   /* retention.inputs: 0 = for ever */

        /* kafka.* keys, prefix stripped. Owned by the conf: never destroy
         * it, and hand rd_kafka_new() a rd_kafka_conf_dup() of it. */
        struct rd_kafka_conf_s *kafka;

        /* The schema ids this process writes and accepts: the built-in
         * ones (sr_conf_new()), or the registry's, set once by
         * sr_app_register_schemas() before any codec is made. Every
         * sr_codec_new() of a process is followed by sr_codec_set_ids()
         * with these. */
        sr_schema_ids_t schema_ids;

        /* Set by sr_conf_from_args(); the caller acts on them. */
        bool help;           /* -h, --help */
        bool list_config;    /* --list-config */
        bool list_config_md; /* --list-config-md */
} sr_conf_t;

/**
 * @brief A conf holding every key's default.
 * @returns the conf (caller owns; free with sr_conf_destroy()), or NULL
 *          when out of memory.
 */
sr_conf_t *sr_conf_new(void);

/** @brief Free @p conf and everything it owns. NULL is a no-op. */
void sr_conf_destroy(sr_conf_t *conf);

/**
 * @brief Set one key from its text form. Integers are decimal, booleans
 * true|false|yes|no|on|off|1|0, enums one of their names, durations a
 * decimal number and a unit (500ms, 90s, 15m, 12h, 30d; a bare 0 is
 * zero), "kafka.*" keys whatever librdkafka accepts. @p name and @p value are copied.
 * @param[out] ec optional; on failure "key: reason", e.g.
 *   `batch.size: expected integer 1..100000, got "12abc"`.
 * @returns SR_OK, SR_ERR_CONF (unknown key or bad value) or SR_ERR_NOMEM.
 */
sr_err_t sr_conf_set(sr_conf_t *conf, const char *name, const char *value,
                     sr_errctx_t *ec);

/**
 * @brief Apply a file of "key = value" lines. Blank lines and lines whose
 * first non-blank character is '#' are skipped; keys and values are
 * trimmed; a value may be empty. Stops at the first error.
 * @param[out] ec optional; "path:LINE: key: reason", or "path: ..." when
 *                the file cannot be read.
 * @returns SR_OK, SR_ERR_CONF (bad line, or file cannot be opened),
 *          SR_ERR_IO (read error) or SR_ERR_NOMEM.
 */
sr_err_t sr_conf_load_file(sr_conf_t *conf, const char *path,
                           sr_errctx_t *ec);

/**
 * @brief Apply every SR_<KEY> variable of @p envp (NULL-terminated
 * "NAME=value" strings, borrowed). KEY is the key upper-cased with '_' for
 * '.': SR_BATCH_SIZE -> batch.size, SR_KAFKA_BOOTSTRAP_SERVERS ->
 * kafka.bootstrap.servers. Variables that are not configuration and are
 * skipped: SR_BUILD_DIR, SR_SOURCE_DIR, SR_API_TOKENS and SR_TEST_*; any
 * other SR_ variable that maps to no key is an error (a typo must not be
 * silently ignored). NULL @p envp is a no-op.
 * @param[out] ec optional; "env SR_X: key: reason".
 * @returns SR_OK, SR_ERR_CONF or SR_ERR_NOMEM.
 */
sr_err_t sr_conf_load_env(sr_conf_t *conf, char **envp, sr_errctx_t *ec);

/**
 * @brief Cross-key checks, run once all sources are applied: topic.prefix
 * makes legal topic names, group.id differs from agent.group.id, the
 * consumer groups are not also set as kafka.group.id, and the size budget
 * fits the producer (sr_conf_check_budget()). Idempotent.
 * @returns SR_OK or SR_ERR_CONF ("key: reason").
 */
sr_err_t sr_conf_finalize(sr_conf_t *conf, sr_errctx_t *ec);

/**
 * @brief The size budget (sr_budget.h): command.max.bytes plus what a
 * derived record may add must fit the producer's kafka.message.max.bytes
 * (librdkafka's default 1000000 when unset). Run by sr_conf_finalize(),
 * and by sr_worker_new() and sr_gateway_new() for confs built without it.
 * @returns SR_OK or SR_ERR_CONF (the message names both keys).
 */
sr_err_t sr_conf_check_budget(const sr_conf_t *conf, sr_errctx_t *ec);

/**
 * @brief The CloudEvents dataschema of schema @p id: the registry URL
 * <events.dataschema.base, else gateway.public.url>/schemas/ids/<id>
 * (trailing '/' of the base dropped), written NUL-terminated into @p out
 * (caller's, @p cap bytes; 1,100 hold any).
 * @returns false when neither key is set (no dataschema: a relative URL is
 * not a URI) or @p out is too small.
 */
bool sr_conf_dataschema_url(const sr_conf_t *conf, int id, char *out,
                            size_t cap);

/**
 * @brief Print the key table to @p out: aligned text, or when @p markdown a
 * Markdown table "key | type | default | range | description" (the README's
 * configuration reference is generated from it).
 */
void sr_conf_list(FILE *out, bool markdown);

/**
 * @brief Print the common command-line usage of a worker to @p out.
 * @param prog program name for the first line; @p args describes what
 *             follows the flags (e.g. "[COMMAND]"), or NULL.
 */
void sr_conf_usage(FILE *out, const char *prog, const char *args);

/**
 * @brief The common command line of every worker:
 *
 *   -c FILE, --config FILE   load a config file (repeatable, in order)
 *   -D KEY=VALUE             set a key (repeatable, applied last)
 *   --list-config            set conf->list_config
 *   --list-config-md         set conf->list_config_md
 *   -h, --help               set conf->help
 *   --                       end of flags
 *
 * Precedence: defaults < files < @p envp < -D. Flag parsing starts at
 * argv[1] and stops at the first argument that is not a flag; its index is
 * returned in *argi (argc if none) so the worker can take subcommands.
 * When -h or a --list-config flag is present the sources are not applied
 * (the caller prints and exits). Otherwise sr_conf_finalize() is run.
 * @param envp  may be NULL (no environment).
 * @param[out] argi set on SR_OK only.
 * @param[out] ec optional; e.g. `argument 3: unknown flag "--foo"`,
 *   `argument 2: batch.size: expected integer 1..100000, got "0"`.
 * @returns SR_OK, SR_ERR_CONF, SR_ERR_IO or SR_ERR_NOMEM.
 */
sr_err_t sr_conf_from_args(sr_conf_t *conf, int argc, char **argv,
                           char **envp, int *argi, sr_errctx_t *ec);

#endif /* SR_CONF_H */
