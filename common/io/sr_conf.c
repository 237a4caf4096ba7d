/* common/io/sr_conf.c - the key table, the loaders (file, environment,
 * flags) and the generated docs; the value types' parsers are in
 * sr_conf_types.c. Besides sr_kafka.c the
 * only file that sees librdkafka types: kafka.* keys are handed to
 * rd_kafka_conf_set() verbatim, and librdkafka's errstr is reported. */
#include "sr_conf.h"
#include "sr_conf_int.h"
#include "sr_budget.h"
#include "sr_log.h"
#include "sr_model.h"
#include "sr_registry.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#define KAFKA_PREFIX "kafka."
#define KAFKA_PREFIX_LEN (sizeof(KAFKA_PREFIX) - 1)
#define TOPIC_NAME_MAX 249        /* Kafka's limit */
#define TOPIC_LONGEST_SUFFIX "changelog"

static const char *const type_names[] = {
        [CONF_STR] = "string", [CONF_INT] = "int", [CONF_BOOL] = "bool",
        [CONF_DOUBLE] = "double", [CONF_ENUM] = "enum",
        [CONF_DURATION] = "duration",
};




static const char *const log_level_names[] = {
        "error", "warn", "info", "debug", NULL
};
static_assert(sizeof(log_level_names) / sizeof(log_level_names[0]) ==
                      SR_LOG__COUNT + 1,
              "log_level_names out of sync with sr_log_level_t");
/* Enum fields are written as int. */
static_assert(sizeof(sr_log_level_t) == sizeof(int), "enum is not int-sized");

static const char *const guarantee_names[] = {
        "outbox", "exactly_once", NULL
};
static_assert(sizeof(guarantee_names) / sizeof(guarantee_names[0]) ==
                      SR_GUARANTEE__COUNT + 1,
              "guarantee_names out of sync with sr_guarantee_t");
static_assert(sizeof(sr_guarantee_t) == sizeof(int), "enum is not int-sized");

#define OFF(field) offsetof(sr_conf_t, field)

static const struct conf_prop conf_props[] = {
        { .name = "worker.name", .type = CONF_STR, .offset = OFF(worker_name),
          .min = 1, .max = 64, .def = "sr",
          .desc = "Name of this worker in logs and metrics." },
        { .name = "log.level", .type = CONF_ENUM, .offset = OFF(log_level),
          .names = log_level_names, .def = "info",
          .desc = "Most verbose level logged." },
        { .name = "topic.prefix", .type = CONF_STR,
          .offset = OFF(topic_prefix), .min = 0, .max = 200, .def = "sr.",
          .desc = "Prefix of every topic name: prefix + commands, results, "
                  "events, dispatch, changelog, replies, dlq, "
                  "idempotency, definition-events." },
        { .name = "partitions", .type = CONF_INT, .offset = OFF(partitions),
          .min = 1, .max = 1024, .def = "12",
          .desc = "Partition count of the topics sr-dev creates." },
        { .name = "data.dir", .type = CONF_STR, .offset = OFF(data_dir),
          .min = 1, .max = 4000, .def = "./var/sr",
          .desc = "Directory of the local LMDB snapshot." },
        { .name = "store.map.size.mb", .type = CONF_INT,
          .offset = OFF(store_map_size_mb), .min = 1, .max = 1048576,
          .def = "1024",
          .desc = "LMDB map size in MiB: the most the snapshot can hold." },
        { .name = "store.sync", .type = CONF_BOOL, .offset = OFF(store_sync),
          .def = "false",
          .desc = "fsync LMDB on commit. Off by default: the snapshot is "
                  "rebuilt from Kafka after a machine crash." },
        { .name = "batch.size", .type = CONF_INT, .offset = OFF(batch_size),
          .min = 1, .max = 100000, .def = "2000",
          .desc = "Most records handled in one processing batch." },
        { .name = "poll.timeout.ms", .type = CONF_INT,
          .offset = OFF(poll_timeout_ms), .min = 0, .max = 10000,
          .def = "100", .desc = "Longest wait of one Kafka poll." },
        { .name = "group.id", .type = CONF_STR, .offset = OFF(group_id),
          .min = 1, .max = 255, .def = "sr-status",
          .desc = "Consumer group of the sr-status workers." },
        { .name = "http.port", .type = CONF_INT, .offset = OFF(http_port),
          .min = 0, .max = 65535, .def = "0",
          .desc = "Port of the HTTP server; 0 picks a free port." },
        { .name = "http.bind", .type = CONF_STR, .offset = OFF(http_bind),
          .min = 1, .max = 255, .def = "127.0.0.1",
          .desc = "Address the HTTP server listens on." },
        { .name = "http.enable", .type = CONF_BOOL, .offset = OFF(http_enable),
          .def = "true",
          .desc = "Run the HTTP server (/livez, /readyz, /metrics)." },
        { .name = "http.header.timeout.ms", .type = CONF_INT,
          .offset = OFF(http_header_timeout_ms), .min = 100, .max = 600000,
          .def = "10000",
          .desc = "HTTP servers (sr-gateway and the operations server): a "
                  "request head must be complete this long after its first "
                  "byte (or after the connection was accepted), however "
                  "slowly it drips in; else 408 and close." },
        { .name = "http.body.timeout.ms", .type = CONF_INT,
          .offset = OFF(http_body_timeout_ms), .min = 100, .max = 3600000,
          .def = "30000",
          .desc = "HTTP servers: a request body must be complete this long "
                  "after the end of its head; else 408 and close." },
        { .name = "restore.batch.size", .type = CONF_INT,
          .offset = OFF(restore_batch_size), .min = 1, .max = 1000000,
          .def = "5000",
          .desc = "Changelog records per LMDB transaction while restoring." },
        { .name = "restore.buffer.mb", .type = CONF_INT,
          .offset = OFF(restore_buffer_mb), .min = 1, .max = 2047,
          .def = "256",
          .desc = "Records librdkafka may hold fetched ahead for the one "
                  "changelog partition being restored (its reader's "
                  "queued.max.messages.kbytes; the consumer keeps "
                  "kafka.queued.max.messages.kbytes), and for each "
                  "partition sr-cli dump reads. Taken only while a "
                  "restore runs; 256 restored a 1M-record partition about "
                  "1.3x as fast as 64 on the real broker "
                  "(tests/bench/README.md)." },
        { .name = "processing.guarantee", .type = CONF_ENUM,
          .offset = OFF(processing_guarantee), .names = guarantee_names,
          .def = "outbox",
          .desc = "sr-status: outbox (LMDB outbox relayed in phases by an "
                  "idempotent producer; readers may see identical "
                  "duplicates) or exactly_once (each batch's outputs and "
                  "input offsets in one Kafka transaction; needs a broker "
                  "with transactions, not the embedded one; readers use "
                  "isolation.level=read_committed)." },
        { .name = "cache.entities", .type = CONF_INT,
          .offset = OFF(cache_entities), .min = 0, .max = 100000000,
          .def = "200000",
          .desc = "Most entities (pipeline, stage, operation and target "
                  "runs, an open stage's appended targets) the worker keeps "
                  "decoded in memory between batches, 1-2.5 KiB each, "
                  "besides the largest run a batch used, which stays and "
                  "is not counted (so a run larger than this is not "
                  "reloaded by every batch; docs/guarantee.md); 0 keeps "
                  "only that run. Two such runs busy at once evict each "
                  "other: size it to hold them." },
        { .name = "cache.run.targets", .type = CONF_INT,
          .offset = OFF(cache_run_targets), .min = 0, .max = 100000000,
          .def = "16384",
          .desc = "Most target runs of one cached run kept decoded between "
                  "batches (about 0.8 KiB each); the others are dropped, "
                  "least recently used first, and read back by key when an "
                  "input needs them, so a run of a million target runs "
                  "holds about 70 bytes for each of them, not 0.9 KiB, "
                  "and none of a clean chunk's targets (docs/targets.md "
                  "section 6). 0 keeps none." },
        { .name = "cache.verify", .type = CONF_BOOL,
          .offset = OFF(cache_verify), .def = "false",
          .desc = "Compare every cached run with its LMDB copy before "
                  "use and stop on a difference (slow; for tests)." },
        { .name = "timer.resolution.ms", .type = CONF_INT,
          .offset = OFF(timer_resolution_ms), .min = 10, .max = 60000,
          .def = "200", .desc = "How often due timers are checked." },
        { .name = "agent.latency.ms", .type = CONF_INT,
          .offset = OFF(agent_latency_ms), .min = 0, .max = 600000,
          .def = "20",
          .desc = "sr-agent: delay before a device command is answered." },
        { .name = "agent.failure.rate", .type = CONF_DOUBLE,
          .offset = OFF(agent_failure_rate), .dmin = 0.0, .dmax = 1.0,
          .def = "0.0",
          .desc = "sr-agent: share of device commands that fail." },
        { .name = "agent.seed", .type = CONF_INT, .offset = OFF(agent_seed),
          .min = 0, .max = INT_MAX, .def = "1",
          .desc = "sr-agent: seed of its random choices (reproducible "
                  "runs)." },
        { .name = "agent.group.id", .type = CONF_STR,
          .offset = OFF(agent_group_id), .min = 1, .max = 255,
          .def = "sr-agent", .desc = "Consumer group of the sr-agents." },
        { .name = "gateway.tokens.file", .type = CONF_STR,
          .offset = OFF(gateway_tokens_file), .min = 0, .max = 4000,
          .def = "",
          .desc = "sr-gateway: file of API tokens, one \"token:enterprise\" "
                  "per line (SR_API_TOKENS=token:enterprise,... adds "
                  "more)." },
        { .name = "gateway.registry.auth", .type = CONF_BOOL,
          .offset = OFF(gateway_registry_auth), .def = "false",
          .desc = "sr-gateway: the schema registry read API (/schemas/, "
                  "/subjects, /config) asks for an API token like /v0/; "
                  "false: open to anyone who reaches the port (schemas are "
                  "not tenant data)." },
        { .name = "gateway.reply.timeout.ms", .type = CONF_INT,
          .offset = OFF(gateway_reply_timeout_ms), .min = 0, .max = 600000,
          .def = "5000",
          .desc = "sr-gateway: how long a write waits for the worker's "
                  "reply before answering 202." },
        { .name = "gateway.body.max.bytes", .type = CONF_INT,
          .offset = OFF(gateway_body_max_bytes), .min = 1024,
          .max = 67108864, .def = "1048576",
          .desc = "sr-gateway: largest request body (413 above); a run "
                  "spec (POST /v0/runs/) is at most 4 MiB whatever this "
                  "says." },
        { .name = "gateway.connections.max", .type = CONF_INT,
          .offset = OFF(gateway_connections_max), .min = 1, .max = 100000,
          .def = "1024",
          .desc = "sr-gateway: most concurrent client connections." },
        { .name = "gateway.client.timeout.s", .type = CONF_INT,
          .offset = OFF(gateway_client_timeout_s), .min = 1, .max = 3600,
          .def = "30",
          .desc = "sr-gateway: a keep-alive connection idle this long "
                  "between requests, or a client that reads nothing of an "
                  "answer for as long, is closed." },
        { .name = "gateway.public.url", .type = CONF_STR,
          .offset = OFF(gateway_public_url), .min = 0, .max = 1024,
          .def = "", .check = sr_conf__check_public_url,
          .desc = "sr-gateway: URL clients reach the gateway's root at "
                  "(http or https, host, optional port and path prefix, "
                  "e.g. https://sr.example.com/base): the base of the "
                  "next/previous links of lists. Empty: links relative to "
                  "the server root (/v0/runs/?limit=20&offset=20). The "
                  "request's Host header is never used." },
        { .name = "gateway.tls.cert.file", .type = CONF_STR,
          .offset = OFF(gateway_tls_cert_file), .min = 0, .max = 4000,
          .def = "",
          .desc = "sr-gateway: PEM certificate of https (the server's "
                  "first, intermediates may follow); with "
                  "gateway.tls.key.file the gateway's one port, the "
                  "operations endpoints /livez, /readyz, /metrics "
                  "included, speaks only https (TLS 1.2 at least, ALPN "
                  "http/1.1; the handshake within http.header.timeout.ms "
                  "of the accept). Read at start-up: a missing or "
                  "unreadable file, or a key that does not match, stops "
                  "the gateway with exit status 78. Empty: plain HTTP." },
        { .name = "gateway.tls.key.file", .type = CONF_STR,
          .offset = OFF(gateway_tls_key_file), .min = 0, .max = 4000,
          .def = "",
          .desc = "sr-gateway: PEM private key of gateway.tls.cert.file "
                  "(not encrypted); set both or neither." },
        { .name = "gateway.tls.chain.file", .type = CONF_STR,
          .offset = OFF(gateway_tls_chain_file), .min = 0, .max = 4000,
          .def = "",
          .desc = "sr-gateway: PEM intermediate certificates sent after "
                  "gateway.tls.cert.file's (optional; needs the "
                  "certificate)." },
        { .name = "events.dataschema.base", .type = CONF_STR,
          .offset = OFF(events_dataschema_base), .min = 0, .max = 1024,
          .def = "", .check = sr_conf__check_public_url,
          .desc = "sr-status: URL of the schema registry the ce_dataschema "
                  "header of every event points into "
                  "(<base>/schemas/ids/<id>; the gateway serves that API "
                  "at its root). Empty: gateway.public.url; both empty: no "
                  "ce_dataschema header (the attribute is optional, a "
                  "relative URL would not be a URI)." },
        { .name = "schema.registry.url", .type = CONF_STR,
          .offset = OFF(schema_registry_url), .min = 0, .max = 1024,
          .def = "", .check = sr_conf__check_registry_url,
          .desc = "Every worker, sr-gateway and sr-cli: http:// URL of a "
                  "Confluent-compatible schema registry (host, optional "
                  "port and path prefix, e.g. http://registry:8081 or "
                  "http://apicurio:8080/apis/ccompat/v7; no TLS in this "
                  "version). At start-up the process registers each of "
                  "our schemas under <topic.prefix><topic>-value and then "
                  "writes and accepts only the ids the registry gave; a "
                  "refusal (incompatible or invalid schema) stops it with "
                  "exit status 78 (docs/schemas.md, \"An external "
                  "registry\"). Empty: the built-in ids of "
                  "schemas/registry.tsv." },
        { .name = "schema.registry.wait.ms", .type = CONF_INT,
          .offset = OFF(schema_registry_wait_ms), .min = 0,
          .max = 3600000, .def = "60000",
          .desc = "How long start-up retries a schema registry that does "
                  "not answer (or answers 5xx, 408, 429) before the "
                  "process exits with status 1; each request waits at "
                  "most 5 s (at least 1 s: 0 is one try)." },
        { .name = "gateway.idempotency.ttl.s", .type = CONF_INT,
          .offset = OFF(gateway_idempotency_ttl_s), .min = 60,
          .max = 2592000, .def = "86400",
          .desc = "sr-gateway: how long an Idempotency-Key is remembered "
                  "after its first use, by every gateway of the fleet (a "
                  "reuse with another request is a 409 until then); "
                  "the idempotency topic's retention.ms when sr creates "
                  "it." },
        { .name = "gateway.idempotency.max.keys", .type = CONF_INT,
          .offset = OFF(gateway_idempotency_max_keys), .min = 1000,
          .max = 100000000, .def = "1000000",
          .desc = "sr-gateway: most Idempotency-Keys remembered, the "
                  "fleet's (about 105 bytes each plus enterprise and key: "
                  "~155 MB for a million UUID keys); beyond, the oldest is "
                  "forgotten first (sr_gateway_idempotency_evicted_total)." },
        { .name = "command.max.bytes", .type = CONF_INT,
          .offset = OFF(command_max_bytes), .min = 4096,
          .max = 1000000000 - SR_BUDGET_OVERHEAD, .def = "983040",
          .desc = "Largest input record (key and value bytes of a command "
                  "or a result) sr-status applies: a bigger one is refused "
                  "(reason too_large: dead letter, and a refusal reply for "
                  "a command), and sr-gateway answers 413 instead of "
                  "producing a bigger command. A record derived from "
                  "accepted inputs is at most this + 4096 bytes, which must "
                  "fit kafka.message.max.bytes (checked at start)." },
        { .name = "run.max.stages", .type = CONF_INT,
          .offset = OFF(run_max_stages), .min = 1,
          .max = SR_SPEC_CEIL_STAGES, .def = "100",
          .desc = "Most stages in one pipeline run. sr-gateway refuses a "
                  "bigger run spec (400 naming this key); sr-status refuses "
                  "a create command over its own value (reply "
                  "invalid_value), so set it on both, the worker's no lower "
                  "(docs/api-decisions.md, \"Limits\")." },
        { .name = "stage.max.operations", .type = CONF_INT,
          .offset = OFF(stage_max_operations), .min = 1,
          .max = SR_SPEC_CEIL_OPS, .def = "16",
          .desc = "Most operations in one stage; as run.max.stages." },
        { .name = "stage.max.targets", .type = CONF_INT,
          .offset = OFF(stage_max_targets), .min = 1,
          .max = SR_SPEC_MAX_STAGE_TARGETS, .def = "100000",
          .desc = "Most targets in one stage; as run.max.stages. An open "
                  "stage's targets come in chunks (docs/targets.md), so "
                  "only this key bounds them (at most 10,000,000); targets "
                  "given inline must also fit one run spec of 4 MiB and "
                  "command.max.bytes as one command (about 40 bytes a "
                  "target of a device id alone: some 24,000 targets at its "
                  "default; 413 above). sr-status refuses a chunk past it "
                  "(too_many_targets)." },
        { .name = "stage.chunk.targets", .type = CONF_INT,
          .offset = OFF(stage_chunk_targets), .min = 1, .max = 10000,
          .def = "1000",
          .desc = "Most targets in one chunk of an open stage "
                  "(AppendTargets, POST .../targets/): the gateway answers "
                  "400 above it, sr-status refuses it (invalid_value); set "
                  "it on both, the worker's no lower. A chunk must also "
                  "fit command.max.bytes." },
        { .name = "definition.chunk.targets", .type = CONF_INT,
          .offset = OFF(definition_chunk_targets), .min = 1, .max = 10000,
          .def = "1000",
          .desc = "Most targets in one AddTargets command of a stored "
                  "target list (docs/definitions.md, section 8): sr-gateway "
                  "cuts POST .../targets-bulk/ into chunks of this many, "
                  "each one command, and sr-status refuses an AddTargets "
                  "of more (invalid_value). A chunk must also fit "
                  "command.max.bytes (413 otherwise, nothing sent)." },
        { .name = "gateway.bulk.max.items", .type = CONF_INT,
          .offset = OFF(gateway_bulk_max_items), .min = 1, .max = 10000000,
          .def = "100000",
          .desc = "sr-gateway: most items in one POST .../targets-bulk/ "
                  "body (400 above); the body is also bounded by "
                  "gateway.bulk.max.bytes." },
        { .name = "gateway.bulk.max.bytes", .type = CONF_INT,
          .offset = OFF(gateway_bulk_max_bytes), .min = 1024,
          .max = 268435456, .def = "16777216",
          .desc = "sr-gateway: largest body of POST .../targets-bulk/ "
                  "(413 above), instead of gateway.body.max.bytes for "
                  "that path alone: 100,000 targets with names fit in "
                  "the default 16 MiB. The gateway holds a body while "
                  "its request lives." },
        { .name = "stage.step.targets", .type = CONF_INT,
          .offset = OFF(stage_step_targets), .min = 1, .max = 100000,
          .def = "1000",
          .desc = "sr-status: most target runs one input creates while it "
                  "fills a sealed open stage; the rest come in StageStep "
                  "commands the worker sends to its own partition, so no "
                  "batch grows with the stage (docs/targets.md, section "
                  "4). An inline stage is filled in one input." },
        { .name = "stage.fill.timeout", .type = CONF_DURATION,
          .offset = OFF(stage_fill_timeout_ms), .min = 0,
          .max = 36500 * 86400000L, .def = "10m",
          .desc = "sr-status: an open stage whose turn came (processing) "
                  "and that is still not sealed this long after ends "
                  "invalid, reason targets_incomplete, and its pipeline run "
                  "fails as for any failed stage; 0 = only the stage's own "
                  "timeout (docs/targets.md, section 3)." },
        { .name = "retention.finished", .type = CONF_DURATION,
          .offset = OFF(retention_finished_ms), .min = 0,
          .max = 36500 * 86400000L, .def = "30d",
          .desc = "sr-status: a pipeline run is retired this long after it "
                  "and every stage, operation and target run of it ended: "
                  "its entities and dedupe entries are deleted and "
                  "tombstoned on the changelog, a small marker stays "
                  "(docs/guarantee.md, \"Retention\"). 0 keeps every run "
                  "for ever. Fixed per run when it ends. A client's DELETE "
                  "of a finished run retires it at once, whatever this "
                  "is." },
        { .name = "retention.inputs", .type = CONF_DURATION,
          .offset = OFF(retention_inputs_ms), .min = 0,
          .max = 36500 * 86400000L, .def = "7d",
          .desc = "sr-status: how long the input topics (commands, "
                  "results) keep records: a retired run's marker, which "
                  "refuses late inputs (run_retired), is deleted this "
                  "long after the run retired. sr-status refuses to start "
                  "when the broker says an input topic keeps records "
                  "longer. 0: markers are kept for ever." },
};

#define N_PROPS (sizeof(conf_props) / sizeof(conf_props[0]))

/* Variables with the SR_ prefix that are not configuration. A trailing '*'
 * matches any suffix. */
static const char *const env_ignored[] = {
        "SR_BUILD_DIR", "SR_SOURCE_DIR", "SR_API_TOKENS", "SR_TEST_*",
};

static const struct conf_prop *find_prop(const char *name)
{
        size_t i;

        for (i = 0; i < N_PROPS; i++)
                if (!strcmp(conf_props[i].name, name))
                        return &conf_props[i];
        return NULL;
}

static sr_err_t set_kafka(sr_conf_t *conf, const char *name,
                          const char *value, sr_errctx_t *ec)
{
        char errstr[256];

        errstr[0] = '\0';
        if (rd_kafka_conf_set(conf->kafka, name + KAFKA_PREFIX_LEN, value,
                              errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "%s: %s (got \"%.100s\")", name, errstr,
                                     value);
        return SR_OK;
}

sr_err_t sr_conf_set(sr_conf_t *conf, const char *name, const char *value,
                     sr_errctx_t *ec)
{
        const struct conf_prop *prop;

        if (!strncmp(name, KAFKA_PREFIX, KAFKA_PREFIX_LEN))
                return set_kafka(conf, name, value, ec);
        prop = find_prop(name);
        if (!prop)
                return sr_errctx_set(ec, SR_ERR_CONF, "%.100s: unknown key",
                                     name);
        return sr_conf__set_value(conf, prop, value, ec);
}

sr_conf_t *sr_conf_new(void)
{
        sr_conf_t *conf;
        size_t i;

        conf = calloc(1, sizeof(*conf));
        if (!conf)
                return NULL;
        sr_schema_ids_builtin(&conf->schema_ids);
        conf->kafka = rd_kafka_conf_new();
        if (!conf->kafka)
                goto err_destroy;
        /* Defaults go through the parsers; a unit test proves they pass. */
        for (i = 0; i < N_PROPS; i++)
                if (sr_conf_set(conf, conf_props[i].name, conf_props[i].def,
                                NULL) != SR_OK)
                        goto err_destroy;
        return conf;

err_destroy:
        sr_conf_destroy(conf);
        return NULL;
}

void sr_conf_destroy(sr_conf_t *conf)
{
        size_t i;

        if (!conf)
                return;
        for (i = 0; i < N_PROPS; i++)
                if (conf_props[i].type == CONF_STR)
                        free(*(char **)sr_conf__field(conf, &conf_props[i]));
        if (conf->kafka)
                rd_kafka_conf_destroy(conf->kafka);
        free(conf);
}

static char *trim(char *s)
{
        char *end;

        while (isspace((unsigned char)*s))
                s++;
        end = s + strlen(s);
        while (end > s && isspace((unsigned char)end[-1]))
                end--;
        *end = '\0';
        return s;
}

/* One line of a config file; the caller adds "path:LINE". */
static sr_err_t load_line(sr_conf_t *conf, char *line, sr_errctx_t *ec)
{
        char *key, *eq;

        key = trim(line);
        if (!*key || *key == '#')
                return SR_OK;
        eq = strchr(key, '=');
        if (!eq)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "expected key = value, got \"%.100s\"",
                                     key);
        *eq = '\0';
        key = trim(key);
        if (!*key)
                return sr_errctx_set(ec, SR_ERR_CONF, "missing key before '='");
        return sr_conf_set(conf, key, trim(eq + 1), ec);
}

sr_err_t sr_conf_load_file(sr_conf_t *conf, const char *path,
                           sr_errctx_t *ec)
{
        char *line = NULL;
        size_t cap = 0;
        sr_err_t err = SR_OK;
        int lineno = 0;
        FILE *f;

        f = fopen(path, "r");
        if (!f)
                return sr_errctx_set(ec, SR_ERR_CONF, "%s: cannot open: %s",
                                     path, strerror(errno));
        while (getline(&line, &cap, f) >= 0) {
                lineno++;
                err = load_line(conf, line, ec);
                if (err) {
                        sr_errctx_prefix(ec, "%s:%d", path, lineno);
                        goto out_close;
                }
        }
        if (ferror(f))
                err = sr_errctx_set(ec, SR_ERR_IO, "%s: read: %s", path,
                                    strerror(errno));
out_close:
        free(line);
        fclose(f);
        return err;
}

static bool env_is_ignored(const char *name, size_t len)
{
        size_t i, plen;

        for (i = 0; i < sizeof(env_ignored) / sizeof(env_ignored[0]); i++) {
                plen = strlen(env_ignored[i]);
                if (env_ignored[i][plen - 1] == '*') {
                        if (len >= plen - 1 &&
                            !strncmp(name, env_ignored[i], plen - 1))
                                return true;
                } else if (len == plen && !strncmp(name, env_ignored[i], len)) {
                        return true;
                }
        }
        return false;
}

sr_err_t sr_conf_load_env(sr_conf_t *conf, char **envp, sr_errctx_t *ec)
{
        sr_err_t err;
        char key[256];
        size_t len, i;
        char **e;

        for (e = envp; e && *e; e++) {
                const char *eq = strchr(*e, '=');

                if (strncmp(*e, "SR_", 3) || !eq)
                        continue;
                len = (size_t)(eq - *e);
                if (env_is_ignored(*e, len))
                        continue;
                if (len - 3 >= sizeof(key))
                        return sr_errctx_set(ec, SR_ERR_CONF,
                                             "env %.100s...: name too long",
                                             *e);
                for (i = 0; i < len - 3; i++) {
                        char c = (*e)[3 + i];

                        key[i] = c == '_' ? '.' :
                                            (char)tolower((unsigned char)c);
                }
                key[i] = '\0';
                /* The SR_ namespace is shared with other tools and scripts:
                 * a variable that names no key is reported, not fatal. */
                if (!find_prop(key) && strncmp(key, KAFKA_PREFIX,
                                               strlen(KAFKA_PREFIX))) {
                        SR_WARN("CONF", "environment variable %.*s ignored: "
                                "%s is not a configuration key", (int)len, *e,
                                key);
                        continue;
                }
                err = sr_conf_set(conf, key, eq + 1, ec);
                if (err) {
                        sr_errctx_prefix(ec, "env %.*s", (int)len, *e);
                        return err;
                }
        }
        return SR_OK;
}

static bool is_topic_char(char c)
{
        return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

sr_err_t sr_conf_finalize(sr_conf_t *conf, sr_errctx_t *ec)
{
        char buf[256];
        size_t size = sizeof(buf);
        const char *p;

        for (p = conf->topic_prefix; *p; p++)
                if (!is_topic_char(*p))
                        return sr_errctx_set(ec, SR_ERR_CONF,
                                             "topic.prefix: \"%s\" has a "
                                             "character not allowed in topic "
                                             "names (allowed: letters, "
                                             "digits, '.', '_', '-')",
                                             conf->topic_prefix);
        if (strlen(conf->topic_prefix) + strlen(TOPIC_LONGEST_SUFFIX) >
            TOPIC_NAME_MAX)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "topic.prefix: too long: topic names "
                                     "would exceed %d characters",
                                     TOPIC_NAME_MAX);
        if (!strcmp(conf->group_id, conf->agent_group_id))
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "agent.group.id: must differ from "
                                     "group.id (both \"%s\")", conf->group_id);
        if (!*conf->gateway_tls_cert_file != !*conf->gateway_tls_key_file)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "%s: not set, but %s is (\"%s\"): "
                                     "https needs both, plain HTTP neither",
                                     *conf->gateway_tls_key_file ?
                                             "gateway.tls.cert.file" :
                                             "gateway.tls.key.file",
                                     *conf->gateway_tls_key_file ?
                                             "gateway.tls.key.file" :
                                             "gateway.tls.cert.file",
                                     *conf->gateway_tls_key_file ?
                                             conf->gateway_tls_key_file :
                                             conf->gateway_tls_cert_file);
        if (*conf->gateway_tls_chain_file && !*conf->gateway_tls_cert_file)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "gateway.tls.chain.file: set (\"%s\") "
                                     "without gateway.tls.cert.file",
                                     conf->gateway_tls_chain_file);
        /* The workers set group.id on their librdkafka conf themselves. */
        if (rd_kafka_conf_get(conf->kafka, "group.id", buf, &size) ==
                    RD_KAFKA_CONF_OK && buf[0])
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "kafka.group.id: not allowed, set "
                                     "group.id or agent.group.id instead");
        return sr_conf_check_budget(conf, ec);
}

sr_err_t sr_conf_check_budget(const sr_conf_t *conf, sr_errctx_t *ec)
{
        char buf[32];
        size_t size = sizeof(buf);
        long message_max = 1000000; /* librdkafka's default */

        if (conf->kafka &&
            rd_kafka_conf_get(conf->kafka, "message.max.bytes", buf,
                              &size) == RD_KAFKA_CONF_OK)
                message_max = strtol(buf, NULL, 10);
        return sr_budget_check(conf->command_max_bytes, message_max, ec);
}

/* Text forms of a row's columns. */
static const char *range_text(const struct conf_prop *prop, char *buf,
                              size_t size, bool markdown)
{
        switch (prop->type) {
        case CONF_STR:
                snprintf(buf, size, "length %ld..%ld", prop->min, prop->max);
                break;
        case CONF_INT:
                snprintf(buf, size, "%ld..%ld", prop->min, prop->max);
                break;
        case CONF_DOUBLE:
                snprintf(buf, size, "%g..%g", prop->dmin, prop->dmax);
                break;
        case CONF_DURATION:
                snprintf(buf, size, "0..%ldd (ms, s, m, h, d)",
                         prop->max / 86400000);
                break;
        case CONF_BOOL:
                snprintf(buf, size, markdown ? "true \\| false" :
                                               "true|false");
                break;
        case CONF_ENUM:
                sr_conf__join_names(prop->names,
                                    markdown ? " \\| " : "|", buf, size);
                break;
        }
        return buf;
}

static const char kafka_desc[] =
        "Passed to librdkafka without the \"kafka.\" prefix "
        "(e.g. kafka.bootstrap.servers); librdkafka checks it.";

static void list_markdown(FILE *out)
{
        char range[128];
        size_t i;

        fputs("| key | type | default | range | description |\n"
              "|---|---|---|---|---|\n", out);
        for (i = 0; i < N_PROPS; i++) {
                const struct conf_prop *prop = &conf_props[i];

                fprintf(out, "| `%s` | %s | %s%s%s | %s | %s |\n", prop->name,
                        type_names[prop->type], prop->def[0] ? "`" : "",
                        prop->def[0] ? prop->def : "(empty)",
                        prop->def[0] ? "`" : "",
                        range_text(prop, range, sizeof(range), true),
                        prop->desc);
        }
        fprintf(out, "| `kafka.*` | string | | | %s |\n", kafka_desc);
}

static void list_text(FILE *out)
{
        static const char fmt[] = "%-20s %-6s %-10s %-22s %s\n";
        char range[128];
        size_t i;

        fprintf(out, fmt, "KEY", "TYPE", "DEFAULT", "RANGE", "DESCRIPTION");
        for (i = 0; i < N_PROPS; i++) {
                const struct conf_prop *prop = &conf_props[i];

                fprintf(out, fmt, prop->name, type_names[prop->type],
                        prop->def[0] ? prop->def : "\"\"",
                        range_text(prop, range, sizeof(range), false),
                        prop->desc);
        }
        fprintf(out, fmt, "kafka.*", "string", "", "", kafka_desc);
}

void sr_conf_list(FILE *out, bool markdown)
{
        if (markdown)
                list_markdown(out);
        else
                list_text(out);
}

void sr_conf_usage(FILE *out, const char *prog, const char *args)
{
        fprintf(out,
                "usage: %s [-c FILE] [-D KEY=VALUE]... [--list-config] "
                "[-h]%s%s\n"
                "  -c, --config FILE  apply \"key = value\" lines from FILE\n"
                "  -D KEY=VALUE       set KEY (wins over files and "
                "environment)\n"
                "  --list-config      print every key with default and "
                "range\n"
                "  --list-config-md   the same as a Markdown table\n"
                "  -h, --help         print this help\n"
                "Environment: SR_<KEY> sets KEY, upper-cased with '_' for "
                "'.' (SR_BATCH_SIZE=10).\n",
                prog, args ? " " : "", args ? args : "");
}

/* The flags of sr_conf_from_args(), one at a time. */
enum flag_kind { FLAG_END, FLAG_CONFIG, FLAG_DEFINE, FLAG_OTHER };

struct flag {
        enum flag_kind kind;
        int argi;          /* argv index of the value (or the flag) */
        const char *value; /* FLAG_CONFIG, FLAG_DEFINE */
};

/* Parse the flag at argv[*i] and advance *i past it. FLAG_END at the first
 * non-flag (with *i on it) or after "--". */
static sr_err_t next_flag(sr_conf_t *conf, int argc, char **argv, int *i,
                          struct flag *fl, sr_errctx_t *ec)
{
        const char *a;

        fl->kind = FLAG_END;
        if (*i >= argc)
                return SR_OK;
        a = argv[*i];
        fl->argi = *i;
        if (a[0] != '-' || a[1] == '\0')
                return SR_OK;
        (*i)++;
        if (!strcmp(a, "--"))
                return SR_OK;
        fl->kind = FLAG_OTHER;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                conf->help = true;
        } else if (!strcmp(a, "--list-config")) {
                conf->list_config = true;
        } else if (!strcmp(a, "--list-config-md")) {
                conf->list_config_md = true;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config") ||
                   !strcmp(a, "-D")) {
                if (*i >= argc)
                        return sr_errctx_set(ec, SR_ERR_CONF,
                                             "argument %d: flag \"%s\" needs "
                                             "a value", fl->argi, a);
                fl->kind = a[1] == 'D' ? FLAG_DEFINE : FLAG_CONFIG;
                fl->argi = *i;
                fl->value = argv[(*i)++];
        } else if (!strncmp(a, "--config=", 9)) {
                fl->kind = FLAG_CONFIG;
                fl->value = a + 9;
        } else if (!strncmp(a, "-c", 2) || !strncmp(a, "-D", 2)) {
                fl->kind = a[1] == 'D' ? FLAG_DEFINE : FLAG_CONFIG;
                fl->value = a + 2;
        } else {
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "argument %d: unknown flag \"%s\"",
                                     fl->argi, a);
        }
        if (fl->kind == FLAG_DEFINE && (!strchr(fl->value, '=') ||
                                        fl->value[0] == '='))
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "argument %d: -D \"%s\": expected "
                                     "KEY=VALUE", fl->argi, fl->value);
        return SR_OK;
}

static sr_err_t apply_define(sr_conf_t *conf, const struct flag *fl,
                             sr_errctx_t *ec)
{
        const char *eq = strchr(fl->value, '=');
        sr_err_t err;
        char *key;

        key = strndup(fl->value, (size_t)(eq - fl->value));
        if (!key)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "argument %d: strndup",
                                     fl->argi);
        err = sr_conf_set(conf, key, eq + 1, ec);
        if (err)
                sr_errctx_prefix(ec, "argument %d", fl->argi);
        free(key);
        return err;
}

/* Apply every flag of one kind, in command-line order. */
static sr_err_t apply_flags(sr_conf_t *conf, int argc, char **argv,
                            enum flag_kind kind, sr_errctx_t *ec)
{
        struct flag fl;
        sr_err_t err;
        int i = 1;

        for (;;) {
                err = next_flag(conf, argc, argv, &i, &fl, ec);
                if (err || fl.kind == FLAG_END)
                        return err;
                if (fl.kind != kind)
                        continue;
                if (kind == FLAG_CONFIG)
                        err = sr_conf_load_file(conf, fl.value, ec);
                else
                        err = apply_define(conf, &fl, ec);
                if (err)
                        return err;
        }
}

sr_err_t sr_conf_from_args(sr_conf_t *conf, int argc, char **argv,
                           char **envp, int *argi, sr_errctx_t *ec)
{
        struct flag fl;
        sr_err_t err;
        int i = argc > 0 ? 1 : 0;

        /* First pass: syntax of every flag, and where the flags end. */
        do {
                err = next_flag(conf, argc, argv, &i, &fl, ec);
                if (err)
                        return err;
        } while (fl.kind != FLAG_END);
        if (conf->help || conf->list_config || conf->list_config_md)
                goto out;

        err = apply_flags(conf, argc, argv, FLAG_CONFIG, ec);
        if (err)
                return err;
        err = sr_conf_load_env(conf, envp, ec);
        if (err)
                return err;
        err = apply_flags(conf, argc, argv, FLAG_DEFINE, ec);
        if (err)
                return err;
        err = sr_conf_finalize(conf, ec);
        if (err)
                return err;
out:
        *argi = i;
        return SR_OK;
}

bool sr_conf_dataschema_url(const sr_conf_t *conf, int id, char *out,
                            size_t cap)
{
        const char *base = conf->events_dataschema_base &&
                                           *conf->events_dataschema_base ?
                                   conf->events_dataschema_base :
                                   conf->gateway_public_url;
        size_t n = base ? strlen(base) : 0;
        int len;

        while (n && base[n - 1] == '/')
                n--;
        if (!n || n > INT_MAX)
                return false;
        len = snprintf(out, cap, "%.*s/schemas/ids/%d", (int)n, base, id);
        return len > 0 && (size_t)len < cap;
}
