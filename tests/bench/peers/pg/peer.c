/* tests/bench/peers/pg/peer.c - sr-peer-pg: the PostgreSQL peer of issue
 * 14, "a service over PostgreSQL with a transactional outbox", built as a
 * careful engineer would build it (README.md next to this file says how
 * and why).
 *
 * Two threads:
 * - the writer consumes <prefix>commands (the run-creation command only:
 *   other kinds are counted and skipped) and <prefix>results, and applies
 *   a batch of up to --batch records in ONE transaction, sent as one libpq
 *   pipeline of prepared statements (one round trip per batch): a create
 *   inserts the run's rows and calls pe_start_run(), a result calls
 *   pe_apply_result() (schema.sql: the target, stage and pipeline rows
 *   move and the outbox rows are inserted in the same transaction). Only
 *   after COMMIT are the batch's input offsets committed to Kafka: the
 *   input is at-least-once, and a redelivered record changes nothing (a
 *   create finds its rows, a result finds its target run already moved).
 * - the relay reads the outbox in id order, encodes each row with the
 *   project's codec (the same Avro records, keys and CloudEvents headers
 *   as sr-status), produces them with an idempotent producer, waits for
 *   the acknowledgements and deletes the acknowledged rows. It sleeps on
 *   LISTEN outbox (the writer NOTIFYs in each transaction) when empty.
 *
 * Usage: sr-peer-pg --bootstrap HOST:PORT --pg CONNINFO [--prefix sr.]
 *        [--group sr-peer-pg] [--batch 1000] [--sync on|off]
 *        [--relay-batch 5000] [--fetch-wait-ms N] [--exit-idle-ms N]
 * SIGINT/SIGTERM, or --exit-idle-ms after the last input once there was
 * one: the writer stops after its batch, the relay drains the outbox, and
 * a summary line goes to stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "sr_clock.h"
#include "sr_codec.h"
#include "sr_model.h"

#define UUID_LEN SR_UUID_STR_LEN

static volatile sig_atomic_t g_stop; /* set by the signal handler only */

static void on_signal(int sig)
{
        (void)sig;
        g_stop = 1;
}

typedef struct opts {
        const char *bootstrap, *pg, *prefix, *group;
        int batch, relay_batch, fetch_wait_ms, exit_idle_ms;
        bool sync;
} opts_t;

typedef struct stats {
        atomic_llong results, applied, stale, unknown, creates, started,
                skipped_cmds, poison, batches, events, dispatches;
        atomic_bool writer_done;
        int64_t first_input_ms, last_commit_ms; /* writer's; mono clock */
} stats_t;

typedef struct peer {
        opts_t o;
        stats_t st;
        char topic_cmd[256], topic_res[256], topic_ev[256], topic_disp[256];
} peer_t;

static void die(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        fputs("sr-peer-pg: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(1);
}

/* ------------------------------------------------------------ text */

typedef struct sb {
        char *p;
        size_t len, cap;
} sb_t;

static void sb_put(sb_t *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;

                while (cap < b->len + n + 1)
                        cap *= 2;
                if (!(b->p = realloc(b->p, cap)))
                        die("out of memory");
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

/* Append one element of a PostgreSQL array literal, quoted. */
static void sb_elem(sb_t *b, const char *s)
{
        sb_put(b, b->len > 1 ? ",\"" : "\"", b->len > 1 ? 2 : 1);
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        sb_put(b, "\\", 1);
                sb_put(b, s, 1);
        }
        sb_put(b, "\"", 1);
}

static void sb_reset_array(sb_t *b)
{
        b->len = 0;
        sb_put(b, "{", 1);
}

/* ------------------------------------------------------------ postgres */

static PGconn *pg_connect(const peer_t *p)
{
        PGconn *c = PQconnectdb(p->o.pg);
        PGresult *r;

        if (PQstatus(c) != CONNECTION_OK)
                die("postgres: %s", PQerrorMessage(c));
        r = PQexec(c, p->o.sync ? "SET synchronous_commit = on" :
                                  "SET synchronous_commit = off");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                die("postgres: %s", PQerrorMessage(c));
        PQclear(r);
        return c;
}

static void pg_prepare(PGconn *c, const char *name, const char *sql, int n)
{
        PGresult *r = PQprepare(c, name, sql, n, NULL);

        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                die("prepare %s: %s", name, PQerrorMessage(c));
        PQclear(r);
}

static void pg_send(PGconn *c, const char *stmt, int n,
                    const char *const *vals)
{
        if (!PQsendQueryPrepared(c, stmt, n, vals, NULL, NULL, 0))
                die("send %s: %s", stmt, PQerrorMessage(c));
}

/* ------------------------------------------------------------ writer */

typedef struct writer {
        peer_t *p;
        PGconn *pg;
        rd_kafka_t *rk;
        sr_codec_t *codec;
        int n_sent;        /* statements of the open pipeline */
        short *kinds;      /* per statement: 0 other, 1 start, 2 result */
        int cap_kinds;
        sb_t a[8];         /* array literals of a stage's target runs */
} writer_t;

static void w_track(writer_t *w, short kind)
{
        if (w->n_sent == w->cap_kinds) {
                w->cap_kinds = w->cap_kinds ? w->cap_kinds * 2 : 1024;
                if (!(w->kinds = realloc(w->kinds, (size_t)w->cap_kinds *
                                                           sizeof(short))))
                        die("out of memory");
        }
        w->kinds[w->n_sent++] = kind;
        /* Drain answers now and then so the server never blocks writing
         * to a full socket while we write (libpq's pipeline advice). */
        if (w->n_sent % 64 == 0 && !PQconsumeInput(w->pg))
                die("postgres: %s", PQerrorMessage(w->pg));
}

static void w_send(writer_t *w, const char *stmt, int n,
                   const char *const *vals, short kind)
{
        pg_send(w->pg, stmt, n, vals);
        w_track(w, kind);
}

static void w_send_plain(writer_t *w, const char *sql)
{
        if (!PQsendQueryParams(w->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
                die("send %s: %s", sql, PQerrorMessage(w->pg));
        w_track(w, 0);
}

static void writer_prepare(PGconn *c)
{
        pg_prepare(c, "create_pr",
                   "INSERT INTO pipeline_run (id, pipeline_id, enterprise_id,"
                   " auto_promote, n_stages, created_by) VALUES ($1, $2, $3,"
                   " $4, $5, $6) ON CONFLICT (id) DO NOTHING", 6);
        pg_prepare(c, "create_stage",
                   "INSERT INTO stage_run (id, pipeline_run_id, idx, n_ops,"
                   " n_targets) VALUES ($1, $2, $3, $4, $5)"
                   " ON CONFLICT (id) DO NOTHING", 5);
        pg_prepare(c, "create_targets",
                   "INSERT INTO target_run (id, pipeline_run_id, stage_run_id,"
                   " ord, op_id, device_id, device_name, command_id,"
                   " operation_type, args_json)"
                   " SELECT u.id, $1, $2, u.ord, u.op, u.dev, u.name, u.cmd,"
                   " u.optype, u.args FROM unnest($3::uuid[], $4::int[],"
                   " $5::uuid[], $6::uuid[], $7::text[], $8::uuid[],"
                   " $9::text[], $10::text[])"
                   " AS u(id, ord, op, dev, name, cmd, optype, args)"
                   " ON CONFLICT (id) DO NOTHING", 10);
        pg_prepare(c, "start_run", "SELECT pe_start_run($1, $2, $3)", 3);
        pg_prepare(c, "apply_result",
                   "SELECT pe_apply_result($1, $2, $3, $4, $5, $6, $7, $8,"
                   " $9)", 9);
}

/* The create command: the run's rows (every target run of the spec with
 * its derived ids, status 'none'), then pe_start_run(). The ids are
 * derived as sr-status derives them (UUID v5 of the run id and position),
 * so both systems name the same entities. */
static void w_create(writer_t *w, const sr_command_t *cmd, int64_t now)
{
        const sr_runspec_t *spec = &cmd->u.create.spec;
        char rid[UUID_LEN + 1], pid[UUID_LEN + 1], cid[UUID_LEN + 1];
        char sid[UUID_LEN + 1], nbuf[3][24];
        const char *v[10];

        sr_uuid_fmt(&cmd->pipeline_run_id, rid);
        sr_uuid_fmt(&spec->pipeline_id, pid);
        sr_uuid_fmt(&cmd->command_id, cid);
        snprintf(nbuf[0], sizeof(nbuf[0]), "%u", spec->n_stages);
        v[0] = rid, v[1] = pid, v[2] = cmd->enterprise_id;
        v[3] = spec->auto_promote ? "t" : "f", v[4] = nbuf[0], v[5] = cid;
        w_send(w, "create_pr", 6, v, 0);
        for (uint32_t i = 0; i < spec->n_stages; i++) {
                const sr_spec_stage_t *ss = &spec->stages[i];
                sr_uuid_t su;

                sr_uuid_v5(&su, &sr_ns, "%s/stage/%u", rid, i);
                sr_uuid_fmt(&su, sid);
                snprintf(nbuf[0], sizeof(nbuf[0]), "%u", i);
                snprintf(nbuf[1], sizeof(nbuf[1]), "%u", ss->n_ops);
                snprintf(nbuf[2], sizeof(nbuf[2]), "%u", ss->n_targets);
                v[0] = sid, v[1] = rid, v[2] = nbuf[0], v[3] = nbuf[1];
                v[4] = nbuf[2];
                w_send(w, "create_stage", 5, v, 0);
                if (!ss->n_ops || !ss->n_targets)
                        continue;
                for (int k = 0; k < 8; k++)
                        sb_reset_array(&w->a[k]);
                for (uint32_t j = 0; j < ss->n_ops; j++) {
                        char opid[UUID_LEN + 1];
                        sr_uuid_t ou;

                        sr_uuid_v5(&ou, &sr_ns, "%s/stage/%u/op/%u", rid, i,
                                   j);
                        sr_uuid_fmt(&ou, opid);
                        for (uint32_t k = 0; k < ss->n_targets; k++) {
                                const sr_spec_target_t *t = &ss->targets[k];
                                char tid[UUID_LEN + 1], cmid[UUID_LEN + 1];
                                char did[UUID_LEN + 1], ord[16];
                                sr_uuid_t tu, cu;

                                sr_uuid_v5(&tu, &sr_ns,
                                           "%s/stage/%u/op/%u/target/%u", rid,
                                           i, j, k);
                                sr_uuid_fmt(&tu, tid);
                                sr_uuid_v5(&cu, &sr_ns, "%s/command", tid);
                                sr_uuid_fmt(&cu, cmid);
                                sr_uuid_fmt(&t->device_id, did);
                                snprintf(ord, sizeof(ord), "%u",
                                         j * ss->n_targets + k);
                                sb_elem(&w->a[0], tid);
                                sb_elem(&w->a[1], ord);
                                sb_elem(&w->a[2], opid);
                                sb_elem(&w->a[3], did);
                                sb_elem(&w->a[4], t->device_name);
                                sb_elem(&w->a[5], cmid);
                                sb_elem(&w->a[6], ss->ops[j].operation_type);
                                sb_elem(&w->a[7], ss->ops[j].args_json ?
                                                          ss->ops[j].args_json :
                                                          "{}");
                        }
                }
                v[0] = rid, v[1] = sid;
                for (int k = 0; k < 8; k++) {
                        sb_put(&w->a[k], "}", 1);
                        v[2 + k] = w->a[k].p;
                }
                w_send(w, "create_targets", 10, v, 0);
        }
        snprintf(nbuf[0], sizeof(nbuf[0]), "%" PRId64, now);
        v[0] = rid, v[1] = nbuf[0], v[2] = cid;
        w_send(w, "start_run", 3, v, 1);
}

/* What a device command status does to a target run (domain.md). */
static void map_cmdst(sr_cmdst_t cs, const char **to, const char **reason)
{
        switch (cs) {
        case SR_CMDST_QUEUED:
                *to = "dispatched", *reason = "command_queued";
                return;
        case SR_CMDST_INITIATED:
        case SR_CMDST_ACKNOWLEDGED:
        case SR_CMDST_INPROGRESS:
                *to = "running", *reason = "command_running";
                return;
        case SR_CMDST_SUCCESS:
                *to = "success", *reason = "command_succeeded";
                return;
        case SR_CMDST_TIMEOUT:
                *to = "failure", *reason = "command_timeout";
                return;
        case SR_CMDST_CANCELLED:
                *to = "failure", *reason = "command_cancelled";
                return;
        case SR_CMDST_ERROR:
                *to = "invalid", *reason = "command_error";
                return;
        default:
                *to = "failure", *reason = "command_failed";
                return;
        }
}

static void w_result(writer_t *w, const sr_result_t *res, int64_t now)
{
        char rid[UUID_LEN + 1], tid[UUID_LEN + 1], cid[UUID_LEN + 1];
        char cause[UUID_LEN + 1], nowb[24];
        const char *to, *reason, *v[9];
        sr_cmdst_t cs;

        if (!sr_cmdst_parse(res->command_status, strlen(res->command_status),
                            &cs)) {
                atomic_fetch_add(&w->p->st.poison, 1);
                return;
        }
        map_cmdst(cs, &to, &reason);
        sr_uuid_fmt(&res->pipeline_run_id, rid);
        sr_uuid_fmt(&res->target_run_id, tid);
        sr_uuid_fmt(&res->command_id, cid);
        sr_uuid_fmt(&res->result_id, cause);
        snprintf(nowb, sizeof(nowb), "%" PRId64, now);
        v[0] = rid, v[1] = tid;
        v[2] = sr_uuid_is_nil(&res->command_id) ? NULL : cid;
        v[3] = to, v[4] = reason, v[5] = sr_cmdst_name(cs);
        v[6] = res->device_name, v[7] = nowb, v[8] = cause;
        w_send(w, "apply_result", 9, v, 2);
}

/* Read the pipeline's answers; counts what pe_* returned. */
static void w_finish(writer_t *w)
{
        stats_t *st = &w->p->st;
        PGresult *r;

        for (int i = 0; i < w->n_sent; i++) {
                bool got = false;

                while ((r = PQgetResult(w->pg))) {
                        ExecStatusType s = PQresultStatus(r);

                        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
                                die("statement %d of the batch: %s", i,
                                    PQresultErrorMessage(r));
                        if (s == PGRES_TUPLES_OK && PQntuples(r) == 1) {
                                int v = atoi(PQgetvalue(r, 0, 0));

                                if (w->kinds[i] == 1 && v == 0)
                                        atomic_fetch_add(&st->started, 1);
                                else if (w->kinds[i] == 2)
                                        atomic_fetch_add(v == 0 ? &st->applied :
                                                         v == 1 ? &st->stale :
                                                                  &st->unknown,
                                                         1);
                        }
                        got = true;
                        PQclear(r);
                }
                if (!got)
                        die("statement %d of the batch: no answer", i);
        }
        r = PQgetResult(w->pg);
        if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
                die("batch: no pipeline sync: %s", PQerrorMessage(w->pg));
        PQclear(r);
        w->n_sent = 0;
}

static rd_kafka_t *make_consumer(const peer_t *p)
{
        char err[512], fw[16];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_t *rk;
        const char *kv[][2] = {
                { "bootstrap.servers", p->o.bootstrap },
                { "group.id", p->o.group },
                { "enable.auto.commit", "false" },
                { "enable.auto.offset.store", "false" }, /* stored after COMMIT */
                { "auto.offset.reset", "earliest" },
                { "enable.partition.eof", "false" },
                { "session.timeout.ms", "6000" },
                { "fetch.wait.max.ms", fw },
                { "queued.min.messages", "20000" },
        };

        snprintf(fw, sizeof(fw), "%d", p->o.fetch_wait_ms);
        for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
                if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err,
                                      sizeof(err)) != RD_KAFKA_CONF_OK)
                        die("consumer %s: %s", kv[i][0], err);
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err))))
                die("consumer: %s", err);
        rd_kafka_poll_set_consumer(rk);
        topics = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(topics, p->topic_cmd,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(topics, p->topic_res,
                                          RD_KAFKA_PARTITION_UA);
        if (rd_kafka_subscribe(rk, topics))
                die("subscribe failed");
        rd_kafka_topic_partition_list_destroy(topics);
        return rk;
}

/* One message of the batch into the open pipeline. */
static void w_message(writer_t *w, const rd_kafka_message_t *m)
{
        stats_t *st = &w->p->st;
        sr_slice_t in = sr_slice(m->payload, m->len);
        int64_t now = rd_kafka_message_timestamp(m, NULL);
        const char *topic = rd_kafka_topic_name(m->rkt);
        sr_errctx_t ec = { 0 };

        if (now <= 0)
                now = sr_clock_wall_ms();
        if (!strcmp(topic, w->p->topic_res)) {
                sr_result_t res;

                atomic_fetch_add(&st->results, 1);
                if (sr_codec_decode_result(w->codec, in, &res, &ec) != SR_OK) {
                        fprintf(stderr, "sr-peer-pg: skipped result at %s/%d@%"
                                PRId64 ": %s\n", topic, m->partition,
                                m->offset, ec.msg);
                        atomic_fetch_add(&st->poison, 1);
                        return;
                }
                w_result(w, &res, now);
        } else {
                sr_command_t cmd;

                if (sr_codec_decode_command(w->codec, in, &cmd, &ec) != SR_OK) {
                        fprintf(stderr, "sr-peer-pg: skipped command at %s/%d@%"
                                PRId64 ": %s\n", topic, m->partition,
                                m->offset, ec.msg);
                        atomic_fetch_add(&st->poison, 1);
                        return;
                }
                if (cmd.kind == SR_CMD_CREATE_RUN) {
                        atomic_fetch_add(&st->creates, 1);
                        w_create(w, &cmd, now);
                } else {
                        atomic_fetch_add(&st->skipped_cmds, 1);
                }
                sr_command_fini(&cmd);
        }
}

static void writer_run(peer_t *p)
{
        writer_t w = { .p = p };
        rd_kafka_message_t **msgs;
        sr_errctx_t ec = { 0 };
        rd_kafka_queue_t *q;
        int64_t last_input = 0;

        w.pg = pg_connect(p);
        writer_prepare(w.pg);
        if (sr_codec_new(&w.codec, &ec) != SR_OK)
                die("codec: %s", ec.msg);
        w.rk = make_consumer(p);
        q = rd_kafka_queue_get_consumer(w.rk);
        if (!(msgs = calloc((size_t)p->o.batch, sizeof(*msgs))))
                die("out of memory");
        if (!PQenterPipelineMode(w.pg))
                die("pipeline mode: %s", PQerrorMessage(w.pg));
        while (!g_stop) {
                ssize_t n = 0, got;
                int useful = 0;

                /* Up to --batch records: wait for the first, then take
                 * what is already there (no artificial linger:
                 * rd_kafka_consume_batch_queue() with a timeout waits
                 * for a full batch, so only timeout 0 is used). */
                if ((msgs[0] = rd_kafka_consumer_poll(w.rk, 100))) {
                        n = 1;
                        while (n < p->o.batch &&
                               (got = rd_kafka_consume_batch_queue(
                                        q, 0, msgs + n,
                                        (size_t)(p->o.batch - n))) > 0)
                                n += got;
                }
                if (n <= 0) {
                        if (p->o.exit_idle_ms && last_input &&
                            sr_clock_mono_ms() - last_input >
                                    p->o.exit_idle_ms)
                                break;
                        continue;
                }
                last_input = sr_clock_mono_ms();
                if (!p->st.first_input_ms)
                        p->st.first_input_ms = last_input;
                w_send_plain(&w, "BEGIN");
                for (ssize_t i = 0; i < n; i++) {
                        if (msgs[i]->err) {
                                if (msgs[i]->err !=
                                    RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                        fprintf(stderr, "sr-peer-pg: consume: "
                                                "%s\n",
                                                rd_kafka_message_errstr(
                                                        msgs[i]));
                                continue;
                        }
                        useful++;
                        w_message(&w, msgs[i]);
                }
                w_send_plain(&w, "NOTIFY outbox");
                w_send_plain(&w, "COMMIT");
                if (!PQpipelineSync(w.pg))
                        die("pipeline sync: %s", PQerrorMessage(w.pg));
                w_finish(&w);
                p->st.last_commit_ms = sr_clock_mono_ms();
                atomic_fetch_add(&p->st.batches, 1);
                /* The batch is durable (or committed with
                 * synchronous_commit=off): now its input offsets. */
                for (ssize_t i = 0; i < n; i++) {
                        /* An error here (a partition revoked meanwhile)
                         * only means a redelivery, which changes nothing. */
                        if (!msgs[i]->err)
                                (void)rd_kafka_offset_store(msgs[i]->rkt,
                                                      msgs[i]->partition,
                                                      msgs[i]->offset);
                        rd_kafka_message_destroy(msgs[i]);
                }
                if (useful)
                        rd_kafka_commit(w.rk, NULL, 1);
        }
        rd_kafka_commit(w.rk, NULL, 0);
        rd_kafka_queue_destroy(q);
        rd_kafka_consumer_close(w.rk);
        rd_kafka_destroy(w.rk);
        free(msgs);
        free(w.kinds);
        for (int k = 0; k < 8; k++)
                free(w.a[k].p);
        sr_codec_destroy(w.codec);
        PQfinish(w.pg);
}

/* ------------------------------------------------------------ relay */

enum {
        C_ID, C_KIND, C_RUN, C_SEQ, C_ETYPE, C_ENT, C_PIPE, C_STAGE, C_OP,
        C_DEV, C_FROM, C_TO, C_REASON, C_AT, C_CAUSE, C_ENTERPRISE, C_VER,
        C_CMD, C_DEVNAME, C_OPTYPE, C_ARGS
};

static void uuid_col(const PGresult *r, int row, int col, sr_uuid_t *out)
{
        memset(out, 0, sizeof(*out));
        if (!PQgetisnull(r, row, col) &&
            !sr_uuid_parse(PQgetvalue(r, row, col),
                           (size_t)PQgetlength(r, row, col), out))
                die("relay: bad uuid in column %d", col);
}

static void text_col(const PGresult *r, int row, int col, char *out,
                     size_t cap)
{
        snprintf(out, cap, "%s", PQgetvalue(r, row, col));
}

static void status_col(const PGresult *r, int row, int col, sr_status_t *out)
{
        *out = SR_ST_NONE;
        if (!PQgetisnull(r, row, col) &&
            !sr_status_parse(PQgetvalue(r, row, col),
                             (size_t)PQgetlength(r, row, col), out))
                die("relay: bad status in column %d", col);
}

typedef struct relay {
        peer_t *p;
        PGconn *pg;
        rd_kafka_t *rk;
        sr_codec_t *codec;
        signed char *acked; /* per row of the fetch: 0 waiting, 1 ok, -1 */
        sb_t ids;
} relay_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        *(signed char *)m->_private = m->err ? -1 : 1;
        if (m->err)
                fprintf(stderr, "sr-peer-pg: relay: delivery: %s\n",
                        rd_kafka_err2str(m->err));
}

static rd_kafka_t *make_producer(const peer_t *p)
{
        char err[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        /* What sr-status's producer uses (sr_kafka_producer.c). */
        const char *kv[][2] = {
                { "bootstrap.servers", p->o.bootstrap },
                { "enable.idempotence", "true" },
                { "acks", "all" },
                { "linger.ms", "1" },
                { "partitioner", "murmur2_random" },
        };

        for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
                if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err,
                                      sizeof(err)) != RD_KAFKA_CONF_OK)
                        die("producer %s: %s", kv[i][0], err);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))))
                die("producer: %s", err);
        return rk;
}

static void produce(relay_t *rl, const char *topic, const char *key,
                    sr_buf_t *val, int64_t ts, rd_kafka_headers_t *h,
                    signed char *ack)
{
        rd_kafka_resp_err_t e;

        for (;;) {
                e = rd_kafka_producev(
                        rl->rk, RD_KAFKA_V_TOPIC(topic),
                        RD_KAFKA_V_KEY(key, UUID_LEN),
                        RD_KAFKA_V_VALUE(val->ptr, val->len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_HEADERS(h),
                        RD_KAFKA_V_OPAQUE(ack), RD_KAFKA_V_END);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(rl->rk, 10);
        }
        if (e) {
                if (h)
                        rd_kafka_headers_destroy(h);
                die("relay: produce: %s", rd_kafka_err2str(e));
        }
        sr_buf_free(val);
}

static void relay_event(relay_t *rl, const PGresult *r, int i)
{
        char key[UUID_LEN + 1], id[UUID_LEN + 1], ent[UUID_LEN + 1];
        char subject[96], when[40];
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        rd_kafka_headers_t *h;
        sr_event_t ev;

        memset(&ev, 0, sizeof(ev));
        uuid_col(r, i, C_RUN, &ev.pipeline_run_id);
        ev.seq = strtoull(PQgetvalue(r, i, C_SEQ), NULL, 10);
        sr_uuid_event_id(&ev.event_id, &ev.pipeline_run_id, ev.seq);
        ev.entity_type = (sr_entity_type_t)atoi(PQgetvalue(r, i, C_ETYPE));
        uuid_col(r, i, C_ENT, &ev.entity_id);
        uuid_col(r, i, C_PIPE, &ev.pipeline_id);
        uuid_col(r, i, C_STAGE, &ev.stage_run_id);
        uuid_col(r, i, C_OP, &ev.stage_run_operation_id);
        uuid_col(r, i, C_DEV, &ev.device_id);
        status_col(r, i, C_FROM, &ev.from_status);
        status_col(r, i, C_TO, &ev.to_status);
        text_col(r, i, C_REASON, ev.reason, sizeof(ev.reason));
        ev.occurred_at = strtoll(PQgetvalue(r, i, C_AT), NULL, 10);
        uuid_col(r, i, C_CAUSE, &ev.causation_id);
        text_col(r, i, C_ENTERPRISE, ev.enterprise_id,
                 sizeof(ev.enterprise_id));
        ev.version = (uint32_t)strtoul(PQgetvalue(r, i, C_VER), NULL, 10);
        if (sr_codec_encode_event(rl->codec, &ev, &val, &ec) != SR_OK)
                die("relay: encode event: %s", ec.msg);
        sr_uuid_fmt(&ev.pipeline_run_id, key);
        sr_uuid_fmt(&ev.event_id, id);
        sr_uuid_fmt(&ev.entity_id, ent);
        snprintf(subject, sizeof(subject), "%s/%s",
                 sr_entity_type_name(ev.entity_type), ent);
        if (!sr_clock_iso8601(ev.occurred_at, when))
                when[0] = '\0';
        when[SR_ISO8601_LEN] = '\0';
        /* CloudEvents binary mode, as sr-status writes it. */
        h = rd_kafka_headers_new(8);
        rd_kafka_header_add(h, "ce_specversion", -1, "1.0", 3);
        rd_kafka_header_add(h, "ce_id", -1, id, UUID_LEN);
        rd_kafka_header_add(h, "ce_source", -1, "/sr-peer-pg", -1);
        rd_kafka_header_add(h, "ce_type", -1, "io.sr.v1.StatusChanged", -1);
        rd_kafka_header_add(h, "ce_subject", -1, subject, -1);
        rd_kafka_header_add(h, "ce_time", -1, when, -1);
        rd_kafka_header_add(h, "content-type", -1, "application/avro", -1);
        produce(rl, rl->p->topic_ev, key, &val, ev.occurred_at, h,
                &rl->acked[i]);
        atomic_fetch_add(&rl->p->st.events, 1);
}

static void relay_dispatch(relay_t *rl, const PGresult *r, int i)
{
        char key[UUID_LEN + 1];
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        sr_dispatch_t d;

        memset(&d, 0, sizeof(d));
        d.kind = SR_DISPATCH_COMMAND;
        uuid_col(r, i, C_CMD, &d.command_id);
        uuid_col(r, i, C_RUN, &d.pipeline_run_id);
        uuid_col(r, i, C_STAGE, &d.stage_run_id);
        uuid_col(r, i, C_ENT, &d.target_run_id);
        uuid_col(r, i, C_DEV, &d.device_id);
        text_col(r, i, C_DEVNAME, d.device_name, sizeof(d.device_name));
        text_col(r, i, C_OPTYPE, d.operation_type, sizeof(d.operation_type));
        d.args_json = PQgetvalue(r, i, C_ARGS);
        text_col(r, i, C_ENTERPRISE, d.enterprise_id, sizeof(d.enterprise_id));
        d.issued_at = strtoll(PQgetvalue(r, i, C_AT), NULL, 10);
        if (sr_codec_encode_dispatch(rl->codec, &d, &val, &ec) != SR_OK)
                die("relay: encode dispatch: %s", ec.msg);
        sr_uuid_fmt(&d.device_id, key);
        produce(rl, rl->p->topic_disp, key, &val, d.issued_at, NULL,
                &rl->acked[i]);
        atomic_fetch_add(&rl->p->st.dispatches, 1);
}

/* Wait for a NOTIFY (or @p ms). */
static void relay_wait(relay_t *rl, int ms)
{
        struct pollfd pfd = { .fd = PQsocket(rl->pg), .events = POLLIN };
        PGnotify *n;

        if (poll(&pfd, 1, ms) > 0 && !PQconsumeInput(rl->pg))
                die("relay: postgres: %s", PQerrorMessage(rl->pg));
        while ((n = PQnotifies(rl->pg)))
                PQfreemem(n);
}

/* One round: publish up to --relay-batch rows in id order, wait for the
 * acknowledgements, delete the acknowledged prefix. Returns the rows
 * deleted. A row not acknowledged stays, with every row after it: the
 * next round sends them again (at-least-once, in order). */
static int relay_round(relay_t *rl, const char *limit)
{
        const char *v[1] = { limit };
        PGresult *r = PQexecPrepared(rl->pg, "fetch", 1, v, NULL, NULL, 0);
        PGresult *d;
        int n, done = 0;

        if (PQresultStatus(r) != PGRES_TUPLES_OK)
                die("relay: fetch: %s", PQerrorMessage(rl->pg));
        n = PQntuples(r);
        if (n == 0) {
                PQclear(r);
                return 0;
        }
        memset(rl->acked, 0, (size_t)n);
        for (int i = 0; i < n; i++) {
                if (atoi(PQgetvalue(r, i, C_KIND)) == 0)
                        relay_event(rl, r, i);
                else
                        relay_dispatch(rl, r, i);
        }
        while (rd_kafka_outq_len(rl->rk) > 0)
                rd_kafka_poll(rl->rk, 5);
        sb_reset_array(&rl->ids);
        for (; done < n && rl->acked[done] == 1; done++)
                sb_elem(&rl->ids, PQgetvalue(r, done, C_ID));
        sb_put(&rl->ids, "}", 1);
        PQclear(r);
        if (done == 0)
                return 0;
        v[0] = rl->ids.p;
        d = PQexecPrepared(rl->pg, "delete", 1, v, NULL, NULL, 0);
        if (PQresultStatus(d) != PGRES_COMMAND_OK)
                die("relay: delete: %s", PQerrorMessage(rl->pg));
        PQclear(d);
        return done;
}

static void *relay_main(void *arg)
{
        relay_t rl = { .p = arg };
        sr_errctx_t ec = { 0 };
        char limit[16];
        PGresult *r;

        rl.pg = pg_connect(rl.p);
        r = PQexec(rl.pg, "LISTEN outbox");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
                die("relay: listen: %s", PQerrorMessage(rl.pg));
        PQclear(r);
        pg_prepare(rl.pg, "fetch",
                   "SELECT id, kind, pipeline_run_id, seq, entity_type,"
                   " entity_id, pipeline_id, stage_run_id, op_id, device_id,"
                   " from_status, to_status, reason, occurred_at,"
                   " causation_id, enterprise_id, version, command_id,"
                   " device_name, operation_type, args_json"
                   " FROM outbox ORDER BY id LIMIT $1", 1);
        pg_prepare(rl.pg, "delete",
                   "DELETE FROM outbox WHERE id = ANY($1::bigint[])", 1);
        if (sr_codec_new(&rl.codec, &ec) != SR_OK)
                die("codec: %s", ec.msg);
        rl.rk = make_producer(rl.p);
        if (!(rl.acked = malloc((size_t)rl.p->o.relay_batch)))
                die("out of memory");
        snprintf(limit, sizeof(limit), "%d", rl.p->o.relay_batch);
        for (;;) {
                int n = relay_round(&rl, limit);

                if (n > 0)
                        continue;
                if (atomic_load(&rl.p->st.writer_done))
                        break; /* the writer is done and the outbox empty */
                relay_wait(&rl, 100);
        }
        rd_kafka_flush(rl.rk, 10000);
        rd_kafka_destroy(rl.rk);
        sr_codec_destroy(rl.codec);
        free(rl.acked);
        free(rl.ids.p);
        PQfinish(rl.pg);
        return NULL;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
        fprintf(stderr,
                "usage: sr-peer-pg --bootstrap HOST:PORT --pg CONNINFO "
                "[--prefix sr.] [--group sr-peer-pg] [--batch 1000] "
                "[--sync on|off] [--relay-batch 5000] [--fetch-wait-ms 10] "
                "[--exit-idle-ms 0]\n");
        exit(64);
}

static int int_arg(const char *name, const char *v, int lo, int hi)
{
        char *end;
        long n = strtol(v, &end, 10);

        if (*end || n < lo || n > hi) {
                fprintf(stderr, "sr-peer-pg: %s: expected %d..%d, got \"%s\"\n",
                        name, lo, hi, v);
                exit(64);
        }
        return (int)n;
}

static double cpu_s(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
        peer_t *p = calloc(1, sizeof(*p));
        struct sigaction sa = { .sa_handler = on_signal };
        pthread_t relay;
        int64_t t0;
        stats_t *st;

        if (!p)
                die("out of memory");
        p->o = (opts_t){ .prefix = "sr.", .group = "sr-peer-pg",
                         .batch = 1000, .relay_batch = 5000,
                         .fetch_wait_ms = 10, .sync = true };
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!v)
                        usage();
                if (!strcmp(a, "--bootstrap"))
                        p->o.bootstrap = v;
                else if (!strcmp(a, "--pg"))
                        p->o.pg = v;
                else if (!strcmp(a, "--prefix"))
                        p->o.prefix = v;
                else if (!strcmp(a, "--group"))
                        p->o.group = v;
                else if (!strcmp(a, "--batch"))
                        p->o.batch = int_arg(a, v, 1, 100000);
                else if (!strcmp(a, "--relay-batch"))
                        p->o.relay_batch = int_arg(a, v, 1, 1000000);
                else if (!strcmp(a, "--exit-idle-ms"))
                        p->o.exit_idle_ms = int_arg(a, v, 0, 3600000);
                else if (!strcmp(a, "--fetch-wait-ms"))
                        p->o.fetch_wait_ms = int_arg(a, v, 0, 1000);
                else if (!strcmp(a, "--sync") &&
                         (!strcmp(v, "on") || !strcmp(v, "off")))
                        p->o.sync = !strcmp(v, "on");
                else
                        usage();
                i++;
        }
        if (!p->o.bootstrap || !p->o.pg)
                usage();
        snprintf(p->topic_cmd, sizeof(p->topic_cmd), "%scommands", p->o.prefix);
        snprintf(p->topic_res, sizeof(p->topic_res), "%sresults", p->o.prefix);
        snprintf(p->topic_ev, sizeof(p->topic_ev), "%sevents", p->o.prefix);
        snprintf(p->topic_disp, sizeof(p->topic_disp), "%sdispatch",
                 p->o.prefix);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        fprintf(stderr, "sr-peer-pg: batch=%d relay-batch=%d "
                "synchronous_commit=%s prefix=%s group=%s\n", p->o.batch,
                p->o.relay_batch, p->o.sync ? "on" : "off", p->o.prefix,
                p->o.group);
        t0 = sr_clock_mono_ms();
        if (pthread_create(&relay, NULL, relay_main, p))
                die("relay thread");
        writer_run(p);
        atomic_store(&p->st.writer_done, true);
        pthread_join(relay, NULL);
        st = &p->st;
        fprintf(stderr,
                "sr-peer-pg: results=%lld applied=%lld stale=%lld "
                "unknown=%lld poison=%lld creates=%lld started=%lld "
                "skipped_commands=%lld batches=%lld events=%lld "
                "dispatches=%lld cpu_s=%.3f wall_s=%.3f busy_s=%.3f\n",
                (long long)st->results, (long long)st->applied,
                (long long)st->stale, (long long)st->unknown,
                (long long)st->poison, (long long)st->creates,
                (long long)st->started, (long long)st->skipped_cmds,
                (long long)st->batches, (long long)st->events,
                (long long)st->dispatches, cpu_s(),
                (double)(sr_clock_mono_ms() - t0) / 1000.0,
                (double)(st->last_commit_ms - st->first_input_ms) / 1000.0);
        free(p);
        return 0;
}
