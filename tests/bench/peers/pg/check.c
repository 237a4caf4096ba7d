/* tests/bench/peers/pg/check.c - sr-peer-check: the input and the final
 * statuses of the peer comparison (test_peer_pg.py, README.md).
 *
 *   sr-peer-check load --bootstrap B [--prefix sr.] --runs N --stages S
 *                 --targets T [--ops O] [--seed K] [--fail-every M]
 *                 [--interval-us U]
 *       Produces N run-creation commands (auto-promote on) on
 *       <prefix>commands, keyed by run id. Every id is UUID v5 of the seed
 *       and the position, so the same arguments give the same bytes on any
 *       broker. With --fail-every M, run i with i % M == 1 has one failing
 *       device in its second stage, i % M == 2 in its first stage (the
 *       sr-agent "simulate" directive), to exercise the failure roll-up.
 *       With --interval-us U, run i is produced U x i microseconds after
 *       the first (an open-loop load at 1e6/U runs/s; tests/bench/
 *       harness.py's latency at half load); without, all at once.
 *
 *   sr-peer-check final --bootstrap B [--prefix sr.] --runs N
 *                 [--timeout-ms 120000]
 *       Reads <prefix>events from the beginning until the N pipeline runs
 *       of the load are terminal, then prints, sorted, one line per entity:
 *         <entity_type> <entity_id> <status> <version>
 *       and one per run: "seq <run id> <last seq>". Exits 1 when a run's
 *       events are not 1, 2, 3 ... in order (a repeated event is allowed
 *       and skipped), or on timeout (what was seen is still printed).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "sr_clock.h"
#include "sr_codec.h"
#include "sr_model.h"

#define UUID_LEN SR_UUID_STR_LEN

typedef struct args {
        const char *cmd, *bootstrap, *prefix;
        int runs, stages, targets, ops, seed, fail_every, timeout_ms,
                interval_us;
} args_t;

static void die(const char *msg, const char *detail)
{
        fprintf(stderr, "sr-peer-check: %s%s%s\n", msg, detail ? ": " : "",
                detail ? detail : "");
        exit(1);
}

static void run_id(const args_t *a, int i, sr_uuid_t *out)
{
        sr_uuid_v5(out, &sr_ns, "peer-load/%d/run/%d", a->seed, i);
}

/* ------------------------------------------------------------ load */

/* Sleeps until @p us microseconds after @p start, serving @p rk's delivery
 * reports meanwhile. */
static void pace(const struct timespec *start, int64_t us, rd_kafka_t *rk)
{
        for (;;) {
                struct timespec now;
                int64_t left;

                clock_gettime(CLOCK_MONOTONIC, &now);
                left = us - ((int64_t)(now.tv_sec - start->tv_sec) * 1000000 +
                             (now.tv_nsec - start->tv_nsec) / 1000);
                if (left <= 0)
                        return;
                rd_kafka_poll(rk, 0);
                if (left > 1000000)
                        left = 1000000;
                nanosleep(&(struct timespec){ .tv_sec = left / 1000000,
                                              .tv_nsec = left % 1000000 *
                                                         1000 },
                          NULL);
        }
}

static int load(const args_t *a)
{
        char err[512], topic[256], key[UUID_LEN + 1];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        sr_codec_t *codec;
        sr_errctx_t ec = { 0 };
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", a->bootstrap, err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "enable.idempotence", "true", err,
                              sizeof(err)) ||
            /* sr's partitioner (sr_kafka_producer.c): sr-status keeps a
             * run's state with the partition its commands and results
             * share. */
            rd_kafka_conf_set(conf, "partitioner", "murmur2_random", err,
                              sizeof(err)))
                die("producer conf", err);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))))
                die("producer", err);
        if (sr_codec_new(&codec, &ec) != SR_OK)
                die("codec", ec.msg);
        snprintf(topic, sizeof(topic), "%scommands", a->prefix);
        struct timespec start;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (int i = 0; i < a->runs; i++) {
                sr_command_t cmd;
                sr_runspec_t *sp = &cmd.u.create.spec;
                sr_buf_t val = { 0 };
                int fail_stage = -1;

                if (a->interval_us > 0)
                        pace(&start, (int64_t)a->interval_us * i, rk);
                memset(&cmd, 0, sizeof(cmd));
                if (a->fail_every > 0 && i % a->fail_every == 1)
                        fail_stage = 1;
                if (a->fail_every > 0 && i % a->fail_every == 2)
                        fail_stage = 0;
                cmd.kind = SR_CMD_CREATE_RUN;
                sr_uuid_v5(&cmd.command_id, &sr_ns, "peer-load/%d/cmd/%d",
                           a->seed, i);
                run_id(a, i, &cmd.pipeline_run_id);
                snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id),
                         "ent-bench");
                cmd.issued_at = sr_clock_wall_ms();
                cmd.u.create.run_number = i + 1;
                sr_uuid_v5(&sp->pipeline_id, &sr_ns, "peer-load/%d/pipeline",
                           a->seed);
                snprintf(sp->pipeline_name, sizeof(sp->pipeline_name),
                         "bench");
                sp->auto_promote = true;
                sp->n_stages = (uint32_t)a->stages;
                if (!(sp->stages = calloc((size_t)a->stages,
                                          sizeof(*sp->stages))))
                        die("out of memory", NULL);
                for (int s = 0; s < a->stages; s++) {
                        sr_spec_stage_t *ss = &sp->stages[s];

                        snprintf(ss->name, sizeof(ss->name), "stage-%d", s);
                        ss->n_ops = (uint32_t)a->ops;
                        ss->n_targets = (uint32_t)a->targets;
                        ss->ops = calloc((size_t)a->ops, sizeof(*ss->ops));
                        ss->targets = calloc((size_t)a->targets,
                                             sizeof(*ss->targets));
                        if (!ss->ops || !ss->targets)
                                die("out of memory", NULL);
                        for (int o = 0; o < a->ops; o++) {
                                char args[160];

                                snprintf(ss->ops[o].operation_type,
                                         sizeof(ss->ops[o].operation_type),
                                         "deploy");
                                if (s == fail_stage)
                                        snprintf(args, sizeof(args),
                                                 "{\"simulate\":{\"fail\":"
                                                 "[\"dev-%d-%d-1\"]}}", i, s);
                                else
                                        snprintf(args, sizeof(args), "{}");
                                if (!(ss->ops[o].args_json = strdup(args)))
                                        die("out of memory", NULL);
                        }
                        for (int t = 0; t < a->targets; t++) {
                                sr_spec_target_t *tg = &ss->targets[t];

                                sr_uuid_v5(&tg->device_id, &sr_ns,
                                           "peer-load/%d/dev/%d/%d/%d",
                                           a->seed, i, s, t);
                                snprintf(tg->device_name,
                                         sizeof(tg->device_name),
                                         "dev-%d-%d-%d", i, s, t);
                        }
                }
                if (sr_codec_encode_command(codec, &cmd, &val, &ec) != SR_OK)
                        die("encode", ec.msg);
                sr_uuid_fmt(&cmd.pipeline_run_id, key);
                while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                         RD_KAFKA_V_KEY(key, UUID_LEN),
                                         RD_KAFKA_V_VALUE(val.ptr, val.len),
                                         RD_KAFKA_V_MSGFLAGS(
                                                 RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_END) ==
                       RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(rk, 10);
                rd_kafka_poll(rk, 0);
                sr_buf_free(&val);
                sr_command_fini(&cmd);
        }
        if (rd_kafka_flush(rk, 30000))
                die("flush timed out", NULL);
        rd_kafka_destroy(rk);
        sr_codec_destroy(codec);
        return 0;
}

/* ------------------------------------------------------------ final */

typedef struct ent {
        sr_uuid_t id;
        sr_entity_type_t type;
        sr_status_t status;
        uint32_t version;
} ent_t;

typedef struct runst {
        sr_uuid_t id;
        uint64_t last_seq;
        bool terminal;
} runst_t;

static int cmp_ent(const void *x, const void *y)
{
        const ent_t *a = x, *b = y;
        int c = memcmp(&a->id, &b->id, sizeof(a->id));

        if (c)
                return c;
        return a->version < b->version ? -1 : a->version > b->version;
}

static int cmp_run(const void *x, const void *y)
{
        return memcmp(&((const runst_t *)x)->id, &((const runst_t *)y)->id,
                      sizeof(sr_uuid_t));
}

static int final(const args_t *a)
{
        char err[512], topic[256], group[96], s1[UUID_LEN + 1];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tl;
        runst_t *runs = calloc((size_t)a->runs, sizeof(*runs));
        ent_t *ents = NULL;
        size_t n_ents = 0, cap = 0;
        int n_terminal = 0, bad = 0;
        sr_codec_t *codec;
        sr_errctx_t ec = { 0 };
        int64_t deadline = sr_clock_mono_ms() + a->timeout_ms;
        rd_kafka_t *rk;

        if (!runs)
                die("out of memory", NULL);
        for (int i = 0; i < a->runs; i++)
                run_id(a, i, &runs[i].id);
        qsort(runs, (size_t)a->runs, sizeof(*runs), cmp_run);
        snprintf(group, sizeof(group), "sr-peer-check-%" PRId64,
                 sr_clock_wall_ms());
        if (rd_kafka_conf_set(conf, "bootstrap.servers", a->bootstrap, err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
            rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "enable.auto.commit", "false", err,
                              sizeof(err)) ||
            rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err,
                              sizeof(err)))
                die("consumer conf", err);
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err))))
                die("consumer", err);
        rd_kafka_poll_set_consumer(rk);
        if (sr_codec_new(&codec, &ec) != SR_OK)
                die("codec", ec.msg);
        snprintf(topic, sizeof(topic), "%sevents", a->prefix);
        tl = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tl, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(rk, tl);
        rd_kafka_topic_partition_list_destroy(tl);
        while (n_terminal < a->runs && sr_clock_mono_ms() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                runst_t key, *r;
                sr_event_t ev;

                if (!m)
                        continue;
                if (m->err || sr_codec_decode_event(
                                      codec, sr_slice(m->payload, m->len),
                                      &ev, &ec) != SR_OK) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                fprintf(stderr, "sr-peer-check: event: %s\n",
                                        m->err ? rd_kafka_message_errstr(m) :
                                                 ec.msg);
                        rd_kafka_message_destroy(m);
                        continue;
                }
                rd_kafka_message_destroy(m);
                key.id = ev.pipeline_run_id;
                r = bsearch(&key, runs, (size_t)a->runs, sizeof(*runs),
                            cmp_run);
                if (!r)
                        continue; /* not a run of this load */
                if (ev.seq <= r->last_seq)
                        continue; /* a repeated event */
                if (ev.seq != r->last_seq + 1) {
                        sr_uuid_fmt(&r->id, s1);
                        fprintf(stderr, "sr-peer-check: run %s: seq %" PRIu64
                                " after %" PRIu64 "\n", s1, ev.seq,
                                r->last_seq);
                        bad = 1;
                }
                r->last_seq = ev.seq;
                if (n_ents == cap) {
                        cap = cap ? cap * 2 : 4096;
                        if (!(ents = realloc(ents, cap * sizeof(*ents))))
                                die("out of memory", NULL);
                }
                ents[n_ents++] = (ent_t){ ev.entity_id, ev.entity_type,
                                          ev.to_status, ev.version };
                if (ev.entity_type == SR_ENT_PIPELINE_RUN &&
                    sr_status_is_terminal(ev.to_status) && !r->terminal) {
                        r->terminal = true;
                        n_terminal++;
                }
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        sr_codec_destroy(codec);
        qsort(ents, n_ents, sizeof(*ents), cmp_ent);
        for (size_t i = 0; i < n_ents; i++) {
                if (i + 1 < n_ents &&
                    !memcmp(&ents[i].id, &ents[i + 1].id, sizeof(sr_uuid_t)))
                        continue; /* the entity's latest version wins */
                sr_uuid_fmt(&ents[i].id, s1);
                printf("%s %s %s %u\n", sr_entity_type_name(ents[i].type), s1,
                       sr_status_name(ents[i].status), ents[i].version);
        }
        for (int i = 0; i < a->runs; i++) {
                sr_uuid_fmt(&runs[i].id, s1);
                printf("seq %s %" PRIu64 "\n", s1, runs[i].last_seq);
        }
        free(ents);
        free(runs);
        if (n_terminal < a->runs) {
                fprintf(stderr, "sr-peer-check: %d of %d runs terminal after "
                        "%d ms\n", n_terminal, a->runs, a->timeout_ms);
                return 1;
        }
        return bad;
}

static int int_arg(const char *name, const char *v)
{
        char *end;
        long n = strtol(v, &end, 10);

        if (*end || n < 0 || n > 100000000) {
                fprintf(stderr, "sr-peer-check: %s: expected 0..100000000, "
                        "got \"%s\"\n", name, v);
                exit(64);
        }
        return (int)n;
}

int main(int argc, char **argv)
{
        args_t a = { .prefix = "sr.", .ops = 1, .seed = 1,
                     .timeout_ms = 120000 };
        struct {
                const char *name;
                int *dst;
        } ints[] = { { "--runs", &a.runs },       { "--stages", &a.stages },
                     { "--targets", &a.targets }, { "--ops", &a.ops },
                     { "--seed", &a.seed },       { "--fail-every", &a.fail_every },
                     { "--timeout-ms", &a.timeout_ms },
                     { "--interval-us", &a.interval_us } };

        if (argc < 2)
                goto usage;
        a.cmd = argv[1];
        for (int i = 2; i + 1 < argc; i += 2) {
                size_t k;

                if (!strcmp(argv[i], "--bootstrap")) {
                        a.bootstrap = argv[i + 1];
                        continue;
                }
                if (!strcmp(argv[i], "--prefix")) {
                        a.prefix = argv[i + 1];
                        continue;
                }
                for (k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
                        if (!strcmp(argv[i], ints[k].name))
                                break;
                if (k == sizeof(ints) / sizeof(ints[0]))
                        goto usage;
                *ints[k].dst = int_arg(argv[i], argv[i + 1]);
        }
        if (argc % 2 != 0 || !a.bootstrap || a.runs < 1)
                goto usage;
        if (!strcmp(a.cmd, "load") && a.stages >= 1 && a.targets >= 1 &&
            a.ops >= 1)
                return load(&a);
        if (!strcmp(a.cmd, "final"))
                return final(&a);
usage:
        fprintf(stderr, "usage: sr-peer-check load --bootstrap B [--prefix P] "
                "--runs N --stages S --targets T [--ops O] [--seed K] "
                "[--fail-every M] [--interval-us U]\n"
                "       sr-peer-check final --bootstrap B [--prefix P] "
                "--runs N [--seed K] [--timeout-ms MS]\n");
        return 64;
}
