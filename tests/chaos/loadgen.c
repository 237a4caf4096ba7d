/* tests/chaos/loadgen.c - steady load, device simulator and poison
 * injector for the chaos scenario (tests/chaos/chaos.py).
 *
 *   sr-chaos-loadgen run -b HOST:PORT [--partitions N] [--seed S]
 *                    [--rate RUNS_PER_S] [--duration S] [--drain-timeout S]
 *                    [--poison-every S] [--manifest FILE] [--stats FILE]
 *                    [--targets N] [--max-open N] [--stored N]
 *   sr-chaos-loadgen lag -b HOST:PORT [--partitions N] [--group G]
 *
 * run: creates pipeline runs on sr.commands at a steady rate (seeded mix:
 * auto-promote or not, 1-3 stages, 1-2 operations, 1-N targets, a few runs
 * that time out because their devices never answer), plays the device
 * command service (reads sr.dispatch, answers every device command on
 * sr.results at once: sometimes QUEUED, then INPROGRESS, then SUCCESS or,
 * rarely, FAILED; sometimes a duplicate or a stale late result; a cancel
 * request is sometimes answered CANCELLED), and plays the client (reads
 * sr.events: promotes the next stage of a waiting run or cancels it; cancels
 * a few runs early). Every --poison-every seconds it injects one poison
 * record, cycling through every kind on sr.commands and sr.results, and
 * appends to the manifest (JSON lines) exactly what it injected: topic,
 * partition, offset, key, raw value, and what the worker must do with it
 * (dead-letter with a reason, or a refusal reply with a reason).
 * --poison-every 0: no poison records.
 * --stored N: N stored pipelines are defined at the start (Command version
 * 5's definition commands: 1 or 2 stages, two DEVICES lists sharing two
 * devices attached to the first stage, one of them to the second, one
 * operation a stage), and about a fifth of the runs are started from a
 * free one with StartPipelineRun (one run in flight a pipeline: a second
 * start while the first fills is refused run_starting); their targets
 * come through the pipeline's owner's fill (docs/definitions.md section
 * 5). Each definition command must be accepted (exit 2 otherwise); a
 * refused start is counted, not waited for; a run of a stored pipeline
 * that succeeds must have dispatched each of its devices exactly once per
 * stage (exit 4 otherwise, and when N > 0 but none succeeded).
 * --targets N: a stage has 1..N targets (default 4). --max-open N: no run
 * is created while N runs are not final (default 0: no cap), so a rate
 * above what the workers sustain measures their ceiling (chaos.py's
 * calibration) instead of piling up a backlog.
 * SIGTERM/SIGINT or --duration stop the creation; it then keeps answering
 * until every run it created is terminal (exit 0) or --drain-timeout passes
 * (exit 3, naming the runs still open).
 *
 * lag: prints the summed consumer lag of group G (sr-status) on
 * sr.commands and sr.results (end offset - committed offset), then one
 * "P=lag" pair per lagging partition.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sr_codec.h"
#include "sr_conf.h"
#include "sr_kafka.h"
#include "sr_model.h"

/* the load of tests/chaos/chaos.py at half the calibrated ceiling: a few
 * hundred thousand runs, a few million device commands */
#define MAX_RUNS 400000
#define RUN_HASH (1u << 20)
#define ANS_HASH (1u << 23)

typedef struct lg_run {
        sr_uuid_t id;
        int64_t created_ms;
        uint32_t n_stages;
        bool auto_promote;
        bool cancel_at_wait; /* cancel instead of promoting */
        bool cancel_early;   /* cancel once its first device command shows */
        bool silent;         /* never answered: the run times out */
        bool early_sent;
        uint32_t promoted;   /* stages promoted so far */
        uint64_t acted_seq;  /* seq of the last waiting event acted upon */
        uint64_t status_seq;
        sr_status_t status;
        int stored;          /* its stored pipeline's index + 1; 0: inline */
        bool refused;        /* a start the pipeline's owner refused */
        sr_uuid_t start_cmd; /* the StartPipelineRun's id */
        uint32_t n_dispatched; /* first dispatches of its devices */
} lg_run_t;

/* A stored pipeline (--stored): lists A and B share two devices; stage 1
 * takes A and B, stage 2 (if any) takes A, one operation each. */
#define MAX_STORED 16
#define STORED_DEVICES 12 /* devices of A and B together, at most */

typedef struct lg_pipeline {
        sr_uuid_t id;
        uint32_t n_stages;
        uint32_t n_a, n_b;  /* devices of list A, of list B (2 shared) */
        int busy;           /* its run in flight: run index + 1; 0: none */
} lg_pipeline_t;

typedef struct lg {
        sr_conf_t *conf;
        sr_codec_t *codec;
        sr_producer_t *prod;   /* load */
        sr_producer_t *poison; /* poison records, one at a time */
        sr_reader_t *reader;   /* sr.dispatch + sr.events */
        int parts;
        uint64_t rng;
        FILE *manifest;

        lg_run_t *runs;
        int n_runs;
        int32_t *run_idx; /* hash: index + 1, 0 = empty */
        sr_uuid_t *answered;
        bool *answered_used;
        uint32_t n_answered;
        int n_final;      /* runs seen in a terminal status */
        uint32_t max_targets; /* targets per stage: 1..max_targets */

        lg_pipeline_t pipes[MAX_STORED];
        int n_pipes;
        sr_uuid_t *setup_cmds; /* definition commands awaiting a reply */
        int n_setup;
        uint64_t n_stored, n_stored_refused, n_stored_success,
                n_stored_wrong;

        /* figures */
        uint64_t n_results, n_dispatch, n_cancel_req, n_events, n_promote,
                n_cancel, n_poison, n_poison_uncertain, n_dup_results,
                n_stale_results;
        int poison_next;
} lg_t;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
        (void)sig;
        stop_flag = 1;
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rnd(lg_t *g)
{
        uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* A v4-shaped uuid from the seeded generator (repeatable ids). */
static void rnd_uuid(lg_t *g, sr_uuid_t *u)
{
        uint64_t a = rnd(g), b = rnd(g);

        memcpy(u->b, &a, 8);
        memcpy(u->b + 8, &b, 8);
        u->b[6] = (uint8_t)((u->b[6] & 0x0f) | 0x40);
        u->b[8] = (uint8_t)((u->b[8] & 0x3f) | 0x80);
}

static uint32_t uuid_hash(const sr_uuid_t *u)
{
        uint32_t h;

        memcpy(&h, u->b + 4, sizeof(h)); /* random bits of a v4/v5 id */
        return h * 2654435761u;
}

static void die(const char *what, const sr_errctx_t *ec)
{
        fprintf(stderr, "loadgen: %s: %s\n", what, ec ? ec->msg : "");
        exit(2);
}

/* ------------------------------------------------------------ run table */

static lg_run_t *find_run(lg_t *g, const sr_uuid_t *id)
{
        uint32_t h = uuid_hash(id) & (RUN_HASH - 1);

        while (g->run_idx[h]) {
                lg_run_t *r = &g->runs[g->run_idx[h] - 1];

                if (sr_uuid_eq(&r->id, id))
                        return r;
                h = (h + 1) & (RUN_HASH - 1);
        }
        return NULL;
}

static void index_run(lg_t *g, int i)
{
        uint32_t h = uuid_hash(&g->runs[i].id) & (RUN_HASH - 1);

        while (g->run_idx[h])
                h = (h + 1) & (RUN_HASH - 1);
        g->run_idx[h] = i + 1;
}

/* true the first time @p id is seen */
static bool first_answer(lg_t *g, const sr_uuid_t *id)
{
        uint32_t h = uuid_hash(id) & (ANS_HASH - 1);

        while (g->answered_used[h]) {
                if (sr_uuid_eq(&g->answered[h], id))
                        return false;
                h = (h + 1) & (ANS_HASH - 1);
        }
        if (++g->n_answered > ANS_HASH / 4 * 3) {
                fprintf(stderr, "loadgen: more than %u device commands: "
                        "raise ANS_HASH\n", ANS_HASH / 4 * 3);
                exit(2);
        }
        g->answered_used[h] = true;
        g->answered[h] = *id;
        return true;
}

/* ------------------------------------------------------------ sending */

static void send_value(lg_t *g, sr_producer_t *p, sr_topic_kind_t topic,
                       int32_t partition, const sr_uuid_t *key,
                       const void *val, size_t len, bool null_value)
{
        char k[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };

        (void)g;
        rec.topic = topic;
        rec.partition = partition;
        if (key) {
                sr_uuid_fmt(key, k);
                rec.key = sr_slice(k, SR_UUID_STR_LEN);
        }
        rec.value = null_value ? sr_slice(NULL, 0) : sr_slice(val, len);
        rec.timestamp = now_ms();
        if (sr_producer_send(p, &rec, &ec) != SR_OK)
                die("send", &ec);
}

static void send_command(lg_t *g, const sr_command_t *cmd)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_command(g->codec, cmd, &val, &ec) != SR_OK)
                die("encode command", &ec);
        send_value(g, g->prod, SR_TOPIC_COMMANDS, -1, &cmd->pipeline_run_id,
                   val.ptr, val.len, false);
        sr_buf_free(&val);
}

static void set_status(lg_t *g, sr_cmd_kind_t kind, const sr_uuid_t *run,
                       const sr_uuid_t *entity, const char *status)
{
        sr_command_t cmd;

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = kind;
        rnd_uuid(g, &cmd.command_id);
        cmd.pipeline_run_id = *run;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "acme");
        cmd.issued_at = now_ms();
        if (entity)
                cmd.u.set.entity_id = *entity;
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s", status);
        send_command(g, &cmd);
}

static void send_result(lg_t *g, const sr_dispatch_t *d, const char *status,
                        const sr_uuid_t *result_id)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        sr_result_t res;

        memset(&res, 0, sizeof(res));
        if (result_id)
                res.result_id = *result_id;
        else
                rnd_uuid(g, &res.result_id);
        res.pipeline_run_id = d->pipeline_run_id;
        res.stage_run_id = d->stage_run_id;
        res.target_run_id = d->target_run_id;
        res.command_id = d->command_id;
        snprintf(res.command_status, sizeof(res.command_status), "%s",
                 status);
        res.device_id = d->device_id;
        snprintf(res.device_name, sizeof(res.device_name), "%s",
                 d->device_name);
        res.reported_at = now_ms();
        if (sr_codec_encode_result(g->codec, &res, &val, &ec) != SR_OK)
                die("encode result", &ec);
        send_value(g, g->prod, SR_TOPIC_RESULTS, -1, &res.pipeline_run_id,
                   val.ptr, val.len, false);
        sr_buf_free(&val);
        g->n_results++;
}

/* ------------------------------------------------------------ stored */

static sr_command_t *def_cmd(lg_t *g, sr_command_t *c, const lg_pipeline_t *pp,
                             sr_defcmd_kind_t kind)
{
        memset(c, 0, sizeof(*c));
        c->kind = SR_CMD_DEFINITION;
        rnd_uuid(g, &c->command_id);
        c->pipeline_run_id = pp->id; /* the key */
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), "acme");
        c->issued_at = now_ms();
        c->u.def = calloc(1, sizeof(*c->u.def));
        if (!c->u.def)
                die("out of memory", NULL);
        c->u.def->kind = kind;
        c->u.def->command_id = c->command_id;
        c->u.def->pipeline_id = pp->id;
        snprintf(c->u.def->enterprise_id, sizeof(c->u.def->enterprise_id),
                 "acme");
        c->u.def->issued_at = c->issued_at;
        c->u.def->create = true;
        return c;
}

/* A definition command that must be accepted before runs start. */
static void send_setup(lg_t *g, sr_command_t *c)
{
        g->setup_cmds[g->n_setup++] = c->command_id;
        send_command(g, c);
        sr_command_fini(c);
}

/* Stored pipeline @p i's device @p k (lists A and B share k = n_a - 2 and
 * n_a - 1). */
static void stored_device(const lg_pipeline_t *pp, uint32_t k, sr_uuid_t *out)
{
        char pid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(&pp->id, pid);
        sr_uuid_v5(out, &sr_ns, "chaos/%s/device/%u", pid, k);
}

static void define_pipelines(lg_t *g, int n)
{
        /* per pipeline: pipeline, 2 lists, 2 target chunks, and per stage
         * the stage, its attachments (1 or 2), operation list, operation */
        g->setup_cmds = calloc((size_t)n * 16 + 1, sizeof(*g->setup_cmds));
        if (!g->setup_cmds)
                die("out of memory", NULL);
        for (int i = 0; i < n; i++) {
                lg_pipeline_t *pp = &g->pipes[g->n_pipes++];
                sr_uuid_t list[2];
                sr_command_t c;

                rnd_uuid(g, &pp->id);
                pp->n_stages = 1 + (uint32_t)(i % 2);
                pp->n_a = 3 + (uint32_t)(rnd(g) % 5);
                pp->n_b = 2 + (uint32_t)(rnd(g) % 4);
                def_cmd(g, &c, pp, SR_DEFCMD_PUT_PIPELINE);
                c.u.def->u.pipeline.has_name = true;
                snprintf(c.u.def->u.pipeline.name, SR_NAME_MAX,
                         "chaos-stored-%d", i);
                send_setup(g, &c);
                for (int l = 0; l < 2; l++) {
                        uint32_t from = l ? pp->n_a - 2 : 0,
                                 n_items = l ? pp->n_b : pp->n_a;

                        rnd_uuid(g, &list[l]);
                        def_cmd(g, &c, pp, SR_DEFCMD_PUT_TARGET_LIST);
                        c.u.def->u.list.target_list_id = list[l];
                        c.u.def->u.list.has_name = true;
                        snprintf(c.u.def->u.list.name, SR_NAME_MAX, "%s",
                                 l ? "B" : "A");
                        c.u.def->u.list.has_type = true;
                        c.u.def->u.list.type = SR_TL_DEVICES;
                        send_setup(g, &c);
                        def_cmd(g, &c, pp, SR_DEFCMD_ADD_TARGETS);
                        c.u.def->create = false;
                        c.u.def->u.add.target_list_id = list[l];
                        c.u.def->u.add.n_items = n_items;
                        c.u.def->u.add.items =
                                calloc(n_items, sizeof(sr_defcmd_target_t));
                        if (!c.u.def->u.add.items)
                                die("out of memory", NULL);
                        for (uint32_t k = 0; k < n_items; k++) {
                                sr_defcmd_target_t *t =
                                        &c.u.def->u.add.items[k];

                                stored_device(pp, from + k, &t->device_id);
                                snprintf(t->device_name, SR_NAME_MAX,
                                         "p%d-dev-%u", i, from + k);
                                t->is_active = true;
                        }
                        send_setup(g, &c);
                }
                for (uint32_t si = 0; si < pp->n_stages; si++) {
                        sr_uuid_t stage, ol, op;

                        rnd_uuid(g, &stage);
                        rnd_uuid(g, &ol);
                        rnd_uuid(g, &op);
                        def_cmd(g, &c, pp, SR_DEFCMD_PUT_STAGE);
                        c.u.def->u.stage.stage_id = stage;
                        c.u.def->u.stage.has_name = true;
                        snprintf(c.u.def->u.stage.name, SR_NAME_MAX,
                                 "stage-%u", si + 1);
                        send_setup(g, &c);
                        for (int l = 0; l < (si ? 1 : 2); l++) {
                                def_cmd(g, &c, pp,
                                        SR_DEFCMD_ATTACH_TARGET_LIST);
                                c.u.def->create = false;
                                c.u.def->u.attach.stage_id = stage;
                                c.u.def->u.attach.target_list_id = list[l];
                                send_setup(g, &c);
                        }
                        def_cmd(g, &c, pp, SR_DEFCMD_PUT_OPERATION_LIST);
                        c.u.def->u.oplist.stage_id = stage;
                        c.u.def->u.oplist.operation_list_id = ol;
                        c.u.def->u.oplist.has_name = true;
                        snprintf(c.u.def->u.oplist.name, SR_NAME_MAX, "ops");
                        send_setup(g, &c);
                        def_cmd(g, &c, pp, SR_DEFCMD_PUT_OPERATION);
                        c.u.def->u.op.operation_list_id = ol;
                        c.u.def->u.op.operation_id = op;
                        c.u.def->u.op.has_operation_type = true;
                        snprintf(c.u.def->u.op.operation_type, SR_SHORT_MAX,
                                 "INSTALL");
                        send_setup(g, &c);
                }
        }
}

/* Dispatches a successful run of @p pp makes: stage 1 its A and B devices
 * once each, stage 2 its A devices; one operation a stage. */
static uint32_t stored_expected(const lg_pipeline_t *pp)
{
        return pp->n_a + pp->n_b - 2 + (pp->n_stages > 1 ? pp->n_a : 0);
}

/* A run of a free stored pipeline (false: none is free yet). */
static bool create_stored_run(lg_t *g)
{
        lg_pipeline_t *pp = NULL;
        int from = (int)(rnd(g) % (uint64_t)g->n_pipes);
        lg_run_t *r;
        sr_command_t c;

        if (g->n_setup)
                return false; /* a definition command not answered yet */
        for (int k = 0; k < g->n_pipes && !pp; k++)
                if (!g->pipes[(from + k) % g->n_pipes].busy)
                        pp = &g->pipes[(from + k) % g->n_pipes];
        if (!pp)
                return false;
        r = &g->runs[g->n_runs];
        memset(r, 0, sizeof(*r));
        rnd_uuid(g, &r->id);
        r->created_ms = now_ms();
        r->n_stages = pp->n_stages;
        r->auto_promote = false; /* a stored run's: stages promoted */
        r->cancel_at_wait = rnd(g) % 4 == 0;
        r->cancel_early = rnd(g) % 10 == 0;
        r->stored = (int)(pp - g->pipes) + 1;
        index_run(g, g->n_runs++);
        pp->busy = g->n_runs;
        def_cmd(g, &c, pp, SR_DEFCMD_START_PIPELINE_RUN);
        c.u.def->create = false;
        c.u.def->u.run.pipeline_run_id = r->id;
        r->start_cmd = c.command_id;
        send_command(g, &c);
        sr_command_fini(&c);
        g->n_stored++;
        return true;
}

static void on_reply(lg_t *g, const sr_reply_t *rep)
{
        for (int i = 0; i < g->n_setup; i++)
                if (sr_uuid_eq(&g->setup_cmds[i], &rep->command_id)) {
                        if (!rep->accepted) {
                                fprintf(stderr, "loadgen: a stored "
                                        "pipeline's definition command "
                                        "refused: %s: %s\n",
                                        sr_reject_name(rep->reason),
                                        rep->message);
                                exit(2);
                        }
                        /* answered: out of the pending ones */
                        g->setup_cmds[i] = g->setup_cmds[--g->n_setup];
                        return;
                }
        for (int i = 0; i < g->n_pipes; i++) {
                lg_run_t *r;

                if (!g->pipes[i].busy)
                        continue;
                r = &g->runs[g->pipes[i].busy - 1];
                if (!sr_uuid_eq(&r->start_cmd, &rep->command_id) ||
                    rep->accepted)
                        continue;
                /* run_starting when the last run's fill still held the
                 * pipeline (its cancel came before the fill's end) */
                printf("loadgen: start of a stored pipeline's run refused: "
                       "%s: %s\n", sr_reject_name(rep->reason),
                       rep->message);
                r->refused = true;
                g->pipes[i].busy = 0;
                g->n_stored_refused++;
                return;
        }
}

static void create_run(lg_t *g)
{
        lg_run_t *r;
        sr_command_t cmd;
        sr_runspec_t *spec = &cmd.u.create.spec;
        uint64_t mix = rnd(g) % 100;

        if (g->n_runs >= MAX_RUNS)
                return;
        if (g->n_pipes && mix % 5 == 0 && create_stored_run(g))
                return;
        r = &g->runs[g->n_runs];
        memset(r, 0, sizeof(*r));
        rnd_uuid(g, &r->id);
        r->created_ms = now_ms();
        r->n_stages = 1 + (uint32_t)(rnd(g) % 3);
        r->auto_promote = mix < 60;
        r->cancel_at_wait = !r->auto_promote && rnd(g) % 3 == 0;
        r->cancel_early = mix >= 92 && mix < 97;
        r->silent = mix >= 97;
        index_run(g, g->n_runs++);

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_CREATE_RUN;
        rnd_uuid(g, &cmd.command_id);
        cmd.pipeline_run_id = r->id;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "acme");
        cmd.issued_at = now_ms();
        cmd.u.create.run_number = 1;
        rnd_uuid(g, &spec->pipeline_id);
        snprintf(spec->pipeline_name, sizeof(spec->pipeline_name), "chaos");
        spec->auto_promote = r->auto_promote;
        spec->timeout_seconds = r->silent ? 4 : 0;
        spec->n_stages = r->n_stages;
        spec->stages = calloc(r->n_stages, sizeof(*spec->stages));
        if (!spec->stages)
                die("out of memory", NULL);
        for (uint32_t i = 0; i < r->n_stages; i++) {
                sr_spec_stage_t *s = &spec->stages[i];

                snprintf(s->name, sizeof(s->name), "stage-%u", i + 1);
                s->n_ops = 1 + (uint32_t)(rnd(g) % 2);
                s->ops = calloc(s->n_ops, sizeof(*s->ops));
                s->n_targets = 1 + (uint32_t)(rnd(g) % g->max_targets);
                s->targets = calloc(s->n_targets, sizeof(*s->targets));
                if (!s->ops || !s->targets)
                        die("out of memory", NULL);
                for (uint32_t j = 0; j < s->n_ops; j++) {
                        snprintf(s->ops[j].operation_type,
                                 sizeof(s->ops[j].operation_type),
                                 j ? "REBOOT" : "INSTALL");
                        s->ops[j].args_json = strdup("{\"v\":1}");
                }
                for (uint32_t t = 0; t < s->n_targets; t++) {
                        rnd_uuid(g, &s->targets[t].device_id);
                        snprintf(s->targets[t].device_name,
                                 sizeof(s->targets[t].device_name),
                                 "dev-%d-%u-%u", g->n_runs, i, t);
                }
        }
        send_command(g, &cmd);
        sr_runspec_fini(spec);
}

/* ------------------------------------------------------------ reacting */

static void on_dispatch(lg_t *g, const sr_dispatch_t *d)
{
        lg_run_t *r = find_run(g, &d->pipeline_run_id);
        sr_uuid_t rid;
        uint64_t x;

        if (!r)
                return;
        if (d->kind == SR_DISPATCH_CANCEL) {
                g->n_cancel_req++;
                /* a device that was still busy acknowledges the cancel
                 * (the target run then fails); once per command */
                sr_uuid_t k = d->command_id;

                k.b[0] ^= 0xff; /* a separate key space from commands */
                if (!r->silent && first_answer(g, &k) && rnd(g) % 2)
                        send_result(g, d, "CANCELLED", NULL);
                return;
        }
        if (!first_answer(g, &d->command_id))
                return; /* a re-published device command */
        g->n_dispatch++;
        r->n_dispatched++;
        if (r->cancel_early && !r->early_sent) {
                r->early_sent = true;
                set_status(g, SR_CMD_SET_PIPELINE_RUN_STATUS, &r->id, NULL,
                           "cancelled");
                g->n_cancel++;
        }
        if (r->silent)
                return;
        x = rnd(g) % 100;
        if (x < 30)
                send_result(g, d, "QUEUED", NULL);
        send_result(g, d, x < 10 ? "INITIATED" : "INPROGRESS", NULL);
        rnd_uuid(g, &rid);
        send_result(g, d, rnd(g) % 100 < 4 ? "FAILED" : "SUCCESS", &rid);
        if (x >= 90) { /* the device repeats its last result */
                send_result(g, d, "SUCCESS", &rid);
                g->n_dup_results++;
        } else if (x >= 85) { /* a late, stale progress report */
                send_result(g, d, "INPROGRESS", NULL);
                g->n_stale_results++;
        }
}

/* A run of a stored pipeline ended: the pipeline is free again; a
 * success dispatched each of its devices once per stage. */
static void stored_ended(lg_t *g, lg_run_t *r, sr_status_t st)
{
        lg_pipeline_t *pp = &g->pipes[r->stored - 1];
        char rid[SR_UUID_STR_LEN + 1];

        if (pp->busy == (int)(r - g->runs) + 1)
                pp->busy = 0;
        if (st != SR_ST_SUCCESS)
                return;
        g->n_stored_success++;
        if (r->n_dispatched == stored_expected(pp))
                return;
        g->n_stored_wrong++;
        sr_uuid_fmt(&r->id, rid);
        printf("loadgen: run %s of a stored pipeline succeeded with %u "
               "device commands, %u expected\n", rid, r->n_dispatched,
               stored_expected(pp));
}

static void on_event(lg_t *g, const sr_event_t *ev)
{
        lg_run_t *r;

        g->n_events++;
        if (ev->entity_type != SR_ENT_PIPELINE_RUN)
                return;
        r = find_run(g, &ev->pipeline_run_id);
        if (!r)
                return;
        if (ev->seq >= r->status_seq) {
                if (!sr_status_is_terminal(r->status) &&
                    sr_status_is_terminal(ev->to_status)) {
                        g->n_final++;
                        if (r->stored)
                                stored_ended(g, r, ev->to_status);
                }
                r->status_seq = ev->seq;
                r->status = ev->to_status;
        }
        if (ev->to_status != SR_ST_WAITING || ev->seq <= r->acted_seq)
                return;
        r->acted_seq = ev->seq;
        if (r->cancel_at_wait) {
                set_status(g, SR_CMD_SET_PIPELINE_RUN_STATUS, &r->id, NULL,
                           "cancelled");
                g->n_cancel++;
        } else {
                char rid[SR_UUID_STR_LEN + 1];
                sr_uuid_t sid;

                /* the next stage after the ones already run */
                sr_uuid_fmt(&r->id, rid);
                sr_uuid_v5(&sid, &sr_ns, "%s/stage/%u", rid,
                           ++r->promoted);
                set_status(g, SR_CMD_SET_STAGE_RUN_STATUS, &r->id, &sid,
                           "queued");
                g->n_promote++;
        }
}

static void pump(lg_t *g, int timeout_ms)
{
        sr_inrec_t in[512];
        sr_errctx_t ec = { 0 };
        int n = 0;

        if (sr_reader_poll(g->reader, in, 512, &n, timeout_ms, &ec) != SR_OK)
                die("reader", &ec);
        for (int i = 0; i < n; i++) {
                sr_errctx_t dec = { 0 };

                if (!in[i].value.ptr)
                        continue;
                if (in[i].topic == SR_TOPIC_DISPATCH) {
                        sr_dispatch_t d;
                        char *args = NULL;

                        if (sr_codec_decode_dispatch(g->codec, in[i].value,
                                                     &d, &args,
                                                     &dec) != SR_OK)
                                die("decode dispatch", &dec);
                        on_dispatch(g, &d);
                        free(args);
                } else if (in[i].topic == SR_TOPIC_REPLIES) {
                        sr_reply_t rep;

                        if (sr_codec_decode_reply(g->codec, in[i].value, &rep,
                                                  &dec) != SR_OK)
                                die("decode reply", &dec);
                        on_reply(g, &rep);
                } else {
                        sr_event_t ev;

                        if (sr_codec_decode_event(g->codec, in[i].value, &ev,
                                                  &dec) != SR_OK)
                                die("decode event", &dec);
                        on_event(g, &ev);
                }
        }
        sr_producer_poll(g->prod);
}

/* ------------------------------------------------------------ poison */

static size_t put_varint(uint8_t *p, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;

        while (z >= 0x80) {
                p[n++] = (uint8_t)(z | 0x80);
                z >>= 7;
        }
        p[n++] = (uint8_t)z;
        return n;
}

static size_t skip_varint(const uint8_t *p)
{
        size_t n = 0;

        while (p[n] & 0x80)
                n++;
        return n + 1;
}

static void b64(const uint8_t *in, size_t n, FILE *f)
{
        static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;

                if (i + 1 < n)
                        v |= (uint32_t)in[i + 1] << 8;
                if (i + 2 < n)
                        v |= in[i + 2];
                fputc(t[(v >> 18) & 63], f);
                fputc(t[(v >> 12) & 63], f);
                fputc(i + 1 < n ? t[(v >> 6) & 63] : '=', f);
                fputc(i + 2 < n ? t[v & 63] : '=', f);
        }
}

typedef enum { P_CMD, P_RES } ptopic_t;

typedef struct poison_kind {
        const char *name;
        ptopic_t topic;
        const char *expect; /* "dlq", "reply" or "dlq+reply" */
        const char *reason;
} poison_kind_t;

/* Every kind, on both input topics where the kind applies (results have no
 * union, and a refusal reply only exists for commands). */
static const poison_kind_t kinds[] = {
        { "short", P_CMD, "dlq", "undecodable" },
        { "short", P_RES, "dlq", "undecodable" },
        { "empty", P_CMD, "dlq", "undecodable" },
        { "empty", P_RES, "dlq", "undecodable" },
        { "null_value", P_CMD, "dlq", "undecodable" },
        { "null_value", P_RES, "dlq", "undecodable" },
        { "bad_magic", P_CMD, "dlq", "undecodable" },
        { "bad_magic", P_RES, "dlq", "undecodable" },
        { "unknown_schema", P_CMD, "dlq", "unknown_schema" },
        { "unknown_schema", P_RES, "dlq", "unknown_schema" },
        { "truncated", P_CMD, "dlq", "undecodable" },
        { "truncated", P_RES, "dlq", "undecodable" },
        { "trailing_bytes", P_CMD, "dlq", "undecodable" },
        { "trailing_bytes", P_RES, "dlq", "undecodable" },
        { "wrong_schema", P_CMD, "dlq", "schema_violation" },
        { "wrong_schema", P_RES, "dlq", "schema_violation" },
        { "bad_union_index", P_CMD, "dlq", "schema_violation" },
        { "huge_length", P_CMD, "dlq", "undecodable" },
        { "huge_length", P_RES, "dlq", "undecodable" },
        { "bad_uuid", P_CMD, "dlq", "schema_violation" },
        { "bad_uuid", P_RES, "dlq", "schema_violation" },
        { "unknown_command_status", P_RES, "dlq", "unknown_command_status" },
        { "result_unknown_run", P_RES, "dlq", "unknown_pipeline_run" },
        { "result_unknown_target", P_RES, "dlq", "unknown_target_run" },
        { "command_unknown_run", P_CMD, "reply", "not_found" },
        { "command_unknown_status", P_CMD, "reply", "invalid_value" },
        /* a valid create of ~1 MB, over command.max.bytes (983040) but
         * taken by the broker: a refusal reply and a dead letter cut to
         * its first OVERSIZED_KEPT bytes */
        { "oversized", P_CMD, "dlq+reply", "too_large" },
};
#define OVERSIZED_BYTES 1000000 /* about: the value's size */
#define OVERSIZED_KEPT 1024     /* SR_BUDGET_DLQ_VALUE_PREFIX */
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static int32_t partition_of(lg_t *g, const sr_uuid_t *key)
{
        char k[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(key, k);
        return rd_kafka_msg_partitioner_murmur2(NULL, k, SR_UUID_STR_LEN,
                                                g->parts, NULL, NULL);
}

/* An existing run created a while ago (its create is long in the log). */
static lg_run_t *old_run(lg_t *g)
{
        int64_t t = now_ms() - 2000;
        int n = 0;

        while (n < g->n_runs && g->runs[n].created_ms < t)
                n++;
        return n ? &g->runs[rnd(g) % (uint64_t)n] : NULL;
}

/* A create of 16 operations whose args make it about OVERSIZED_BYTES. */
static sr_err_t oversized_create(lg_t *g, const sr_uuid_t *run,
                                 sr_uuid_t *cmd_id, sr_buf_t *out,
                                 sr_errctx_t *ec)
{
        size_t args_len = OVERSIZED_BYTES / 16;
        sr_spec_op_t ops[16];
        sr_spec_target_t target;
        sr_spec_stage_t stage;
        sr_command_t cmd;
        char *args = malloc(args_len + 1);
        sr_err_t err;

        if (!args)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "oversized args");
        memset(args, 'x', args_len);
        memcpy(args, "{\"a\":\"", 6);
        memcpy(args + args_len - 2, "\"}", 2);
        args[args_len] = '\0';
        memset(ops, 0, sizeof(ops));
        for (int i = 0; i < 16; i++) {
                snprintf(ops[i].operation_type, sizeof(ops[i].operation_type),
                         "INSTALL");
                ops[i].args_json = args;
        }
        memset(&target, 0, sizeof(target));
        rnd_uuid(g, &target.device_id);
        memset(&stage, 0, sizeof(stage));
        snprintf(stage.name, sizeof(stage.name), "oversized");
        stage.n_ops = 16;
        stage.ops = ops;
        stage.n_targets = 1;
        stage.targets = &target;
        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_CREATE_RUN;
        rnd_uuid(g, &cmd.command_id);
        *cmd_id = cmd.command_id;
        cmd.pipeline_run_id = *run;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "acme");
        cmd.issued_at = now_ms();
        rnd_uuid(g, &cmd.u.create.spec.pipeline_id);
        cmd.u.create.spec.n_stages = 1;
        cmd.u.create.spec.stages = &stage;
        cmd.u.create.run_number = 1;
        err = sr_codec_encode_command(g->codec, &cmd, out, ec);
        free(args);
        return err;
}

static void inject(lg_t *g, const poison_kind_t *k)
{
        uint8_t vbuf[4096], *v = vbuf;
        size_t n = 0;
        bool null_value = false;
        sr_uuid_t key, cmd_id = { 0 };
        sr_errctx_t ec = { 0 };
        sr_buf_t base = { 0 }, big = { 0 };
        lg_run_t *r = NULL;
        sr_topic_kind_t topic = k->topic == P_CMD ? SR_TOPIC_COMMANDS :
                                                    SR_TOPIC_RESULTS;
        int32_t part;
        int64_t before, off;
        char kid[SR_UUID_STR_LEN + 1], cid[SR_UUID_STR_LEN + 1];
        sr_err_t err;

        rnd_uuid(g, &key);
        if (!strcmp(k->name, "result_unknown_target") ||
            !strcmp(k->name, "command_unknown_status")) {
                r = old_run(g);
                if (!r)
                        return; /* too early: another time */
                key = r->id;
        }
        /* The valid record each malformed one starts from. */
        if (!strcmp(k->name, "oversized")) {
                err = oversized_create(g, &key, &cmd_id, &big, &ec);
        } else if (k->topic == P_CMD) {
                sr_command_t cmd;

                memset(&cmd, 0, sizeof(cmd));
                cmd.kind = SR_CMD_SET_PIPELINE_RUN_STATUS;
                rnd_uuid(g, &cmd.command_id);
                cmd_id = cmd.command_id;
                cmd.pipeline_run_id = key;
                snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id),
                         "acme");
                cmd.issued_at = now_ms();
                snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s",
                         r ? "exploded" : "cancelled");
                err = sr_codec_encode_command(g->codec, &cmd, &base, &ec);
        } else {
                sr_result_t res;

                memset(&res, 0, sizeof(res));
                rnd_uuid(g, &res.result_id);
                res.pipeline_run_id = key;
                rnd_uuid(g, &res.stage_run_id);
                rnd_uuid(g, &res.target_run_id);
                rnd_uuid(g, &res.command_id);
                snprintf(res.command_status, sizeof(res.command_status),
                         "%s", strcmp(k->name, "unknown_command_status") ?
                                       "SUCCESS" : "EXPLODED");
                rnd_uuid(g, &res.device_id);
                snprintf(res.device_name, sizeof(res.device_name), "poison");
                res.reported_at = now_ms();
                err = sr_codec_encode_result(g->codec, &res, &base, &ec);
        }
        /* The codec refuses to encode an unknown command status: write
         * the valid encoding and patch the status text afterwards. */
        if (err != SR_OK)
                die("encode poison base", &ec);
        if (big.ptr) {
                v = big.ptr;
                n = big.len;
        } else {
                memcpy(v, base.ptr, base.len);
                n = base.len;
        }
        sr_buf_free(&base);
        if (!strcmp(k->name, "short")) {
                v[0] = 0;
                v[1] = 0;
                v[2] = (uint8_t)(g->n_poison >> 8);
                v[3] = (uint8_t)g->n_poison;
                n = 4;
        } else if (!strcmp(k->name, "empty")) {
                n = 0;
        } else if (!strcmp(k->name, "null_value")) {
                n = 0;
                null_value = true;
        } else if (!strcmp(k->name, "bad_magic")) {
                v[0] = 0x42;
        } else if (!strcmp(k->name, "unknown_schema")) {
                v[4] = 99;
        } else if (!strcmp(k->name, "truncated")) {
                n = n * 2 / 3;
        } else if (!strcmp(k->name, "trailing_bytes")) {
                v[n++] = 0x02;
                v[n++] = 0x04;
                v[n++] = 0x06;
        } else if (!strcmp(k->name, "wrong_schema")) {
                v[4] = k->topic == P_CMD ? SR_SCHEMA_EVENT :
                                           SR_SCHEMA_COMMAND;
        } else if (!strcmp(k->name, "bad_union_index")) {
                /* header, two uuid strings, enterprise, issued_at */
                size_t at = 5 + 1 + 36 + 1 + 36;

                at += skip_varint(v + at) + 4; /* "acme" */
                at += skip_varint(v + at);
                v[at] = 18; /* index 9 of an 8-branch union */
        } else if (!strcmp(k->name, "huge_length")) {
                /* the first string's length becomes 2^61 */
                uint8_t tail[4096];
                size_t rest = n - 6, m;

                memcpy(tail, v + 6, rest);
                m = put_varint(v + 5, (int64_t)1 << 61);
                memcpy(v + 5 + m, tail, rest);
                n = 5 + m + rest;
        } else if (!strcmp(k->name, "bad_uuid")) {
                memset(v + 6, 'z', 36);
        } else if (!strcmp(k->name, "unknown_command_status")) {
                /* encoded as is: the codec writes any status text */
        }
        part = partition_of(g, &key);
        sr_uuid_fmt(&key, kid);
        before = sr_producer_acked_offset(g->poison, topic, part);
        send_value(g, g->poison, topic, part,
                   !strcmp(k->name, "short") && k->topic == P_CMD ? NULL :
                                                                    &key,
                   v, n, null_value);
        /* Long enough to outlast a broker restart; an undelivered record
         * is noted as uncertain (the checker then matches it by value). */
        err = sr_producer_wait(g->poison, 120000, &ec);
        off = sr_producer_acked_offset(g->poison, topic, part);
        if (err != SR_OK || off <= before) {
                off = -1;
                g->n_poison_uncertain++;
        }
        sr_uuid_fmt(&cmd_id, cid);
        fprintf(g->manifest,
                "{\"n\":%" PRIu64 ",\"kind\":\"%s\",\"topic\":\"%s\","
                "\"partition\":%" PRId32 ",\"offset\":%" PRId64 ","
                "\"key\":%s%s%s,\"raw\":",
                g->n_poison, k->name, sr_topic_suffix(topic), part, off,
                !strcmp(k->name, "short") && k->topic == P_CMD ? "null" :
                                                                 "\"",
                !strcmp(k->name, "short") && k->topic == P_CMD ? "" : kid,
                !strcmp(k->name, "short") && k->topic == P_CMD ? "" : "\"");
        if (null_value) {
                fputs("null", g->manifest);
        } else {
                /* an oversized record is dead-lettered cut: its prefix */
                fputc('"', g->manifest);
                b64(v, big.ptr && n > OVERSIZED_KEPT ? OVERSIZED_KEPT : n,
                    g->manifest);
                fputc('"', g->manifest);
        }
        if (big.ptr)
                fprintf(g->manifest, ",\"size\":%zu", n);
        fprintf(g->manifest,
                ",\"expect\":\"%s\",\"reason\":\"%s\",\"command_id\":"
                "\"%s\"}\n",
                k->expect, k->reason, cid);
        fflush(g->manifest);
        sr_buf_free(&big);
        g->n_poison++;
}

/* ------------------------------------------------------------ lag */

/* Records a read_committed reader still gets between @p from and @p hi:
 * the watermark also counts transaction markers (processing.guarantee=
 * exactly_once puts one after every batch's forwarded results), and the
 * offsets committed with a transaction point at that marker. -1: error. */
static int64_t pending_records(rd_kafka_t *rk, const char *topic, int part,
                               int64_t from, int64_t hi)
{
        rd_kafka_topic_partition_list_t *one;
        int64_t n = 0, deadline = 0;
        struct timespec ts;

        one = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(one, topic, part)->offset = from;
        if (rd_kafka_assign(rk, one)) {
                rd_kafka_topic_partition_list_destroy(one);
                return -1;
        }
        rd_kafka_topic_partition_list_destroy(one);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        deadline = (int64_t)ts.tv_sec + 15;
        for (;;) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

                clock_gettime(CLOCK_MONOTONIC, &ts);
                if (!m) {
                        if ((int64_t)ts.tv_sec > deadline) {
                                n = -1;
                                break;
                        }
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        rd_kafka_message_destroy(m);
                        break;
                }
                if (!m->err && m->offset < hi)
                        n++;
                if (!m->err && m->offset >= hi - 1) {
                        rd_kafka_message_destroy(m);
                        break;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(rk, NULL);
        return n;
}

static int cmd_lag(const char *bootstrap, int parts, const char *group,
                   const char *prefix)
{
        char errstr[512], name[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tl;
        rd_kafka_resp_err_t err;
        const char *topics[2] = { "commands", "results" };
        int64_t total = 0;
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(kc, "group.id", group, errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof(errstr)) ||
            /* it reads (pending_records) but must never commit */
            rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(kc, "enable.partition.eof", "true", errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(kc, "isolation.level", "read_committed", errstr,
                              sizeof(errstr))) {
                fprintf(stderr, "lag: %s\n", errstr);
                return 2;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "lag: %s\n", errstr);
                return 2;
        }
        tl = rd_kafka_topic_partition_list_new(2 * parts);
        for (int t = 0; t < 2; t++) {
                snprintf(name, sizeof(name), "%s%s", prefix, topics[t]);
                for (int p = 0; p < parts; p++)
                        rd_kafka_topic_partition_list_add(tl, name, p);
        }
        err = rd_kafka_committed(rk, tl, 15000);
        if (err) {
                fprintf(stderr, "lag: committed: %s\n", rd_kafka_err2str(err));
                rd_kafka_topic_partition_list_destroy(tl);
                rd_kafka_destroy(rk);
                return 2;
        }
        for (int i = 0; i < tl->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &tl->elems[i];
                int64_t lo = 0, hi = 0, lag;

                err = rd_kafka_query_watermark_offsets(
                        rk, tp->topic, tp->partition, &lo, &hi, 15000);
                if (err) {
                        fprintf(stderr, "lag: watermarks: %s\n",
                                rd_kafka_err2str(err));
                        rd_kafka_topic_partition_list_destroy(tl);
                        rd_kafka_destroy(rk);
                        return 2;
                }
                lag = hi - (tp->offset >= 0 ? tp->offset : lo);
                if (lag > 0) {
                        int64_t real = pending_records(
                                rk, tp->topic, tp->partition,
                                tp->offset >= 0 ? tp->offset : lo, hi);

                        if (real >= 0)
                                lag = real;
                }
                total += lag;
                if (lag)
                        fprintf(stderr, "lag %s[%d]=%" PRId64 "\n",
                                tp->topic, tp->partition, lag);
        }
        printf("%" PRId64 "\n", total);
        rd_kafka_topic_partition_list_destroy(tl);
        rd_kafka_destroy(rk);
        return 0;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
        fprintf(stderr,
                "usage: sr-chaos-loadgen run -b BOOTSTRAP [--partitions N] "
                "[--seed S] [--rate R] [--duration S] [--drain-timeout S] "
                "[--poison-every S] [--manifest FILE] [--stats FILE] "
                "[--prefix P] [--targets N] [--max-open N]\n"
                "       sr-chaos-loadgen lag -b BOOTSTRAP [--partitions N] "
                "[--group G] [--prefix P]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "bootstrap", required_argument, NULL, 'b' },
                { "partitions", required_argument, NULL, 'p' },
                { "seed", required_argument, NULL, 's' },
                { "rate", required_argument, NULL, 'r' },
                { "duration", required_argument, NULL, 'd' },
                { "drain-timeout", required_argument, NULL, 'D' },
                { "poison-every", required_argument, NULL, 'P' },
                { "manifest", required_argument, NULL, 'm' },
                { "stats", required_argument, NULL, 'S' },
                { "group", required_argument, NULL, 'g' },
                { "prefix", required_argument, NULL, 'x' },
                { "targets", required_argument, NULL, 't' },
                { "max-open", required_argument, NULL, 'o' },
                { "stored", required_argument, NULL, 'T' },
                { NULL, 0, NULL, 0 }
        };
        const char *bootstrap = NULL, *manifest = "manifest.jsonl",
                   *stats = NULL, *group = "sr-status", *prefix = "sr.";
        double rate = 3.0, duration = 300, drain = 240, poison_every = 2.0;
        uint64_t seed = 1;
        int parts = 12, c, open_runs = 0, max_open = 0, max_targets = 4,
            stored = 0, rc;
        sr_errctx_t ec = { 0 };
        sr_reader_part_t rp[3 * 1024];
        lg_t g;
        int64_t start, next_poison, next_report, stop_at = 0;
        double next_create; /* ms; rates above 1000 runs/s */
        bool creating = true;
        const char *mode;

        if (argc < 2)
                usage();
        mode = argv[1];
        optind = 2;
        while ((c = getopt_long(argc, argv, "b:", opts, NULL)) != -1) {
                switch (c) {
                case 'b': bootstrap = optarg; break;
                case 'p': parts = atoi(optarg); break;
                case 's': seed = strtoull(optarg, NULL, 10); break;
                case 'r': rate = atof(optarg); break;
                case 'd': duration = atof(optarg); break;
                case 'D': drain = atof(optarg); break;
                case 'P': poison_every = atof(optarg); break;
                case 'm': manifest = optarg; break;
                case 'S': stats = optarg; break;
                case 'g': group = optarg; break;
                case 'x': prefix = optarg; break;
                case 't': max_targets = atoi(optarg); break;
                case 'o': max_open = atoi(optarg); break;
                case 'T': stored = atoi(optarg); break;
                default: usage();
                }
        }
        if (!bootstrap || parts < 1 || parts > 1024 || rate <= 0 ||
            max_targets < 1 || max_targets > 1000 || max_open < 0 ||
            stored < 0 || stored > MAX_STORED)
                usage();
        if (!strcmp(mode, "lag"))
                return cmd_lag(bootstrap, parts, group, prefix);
        if (strcmp(mode, "run"))
                usage();

        memset(&g, 0, sizeof(g));
        g.parts = parts;
        g.rng = seed;
        g.max_targets = (uint32_t)max_targets;
        g.conf = sr_conf_new();
        if (!g.conf)
                die("out of memory", NULL);
        /* message.max.bytes: the oversized poison command (the broker's
         * default limit, 1048588, takes it) */
        if (sr_conf_set(g.conf, "kafka.bootstrap.servers", bootstrap, &ec) ||
            sr_conf_set(g.conf, "kafka.message.max.bytes", "1040000", &ec) ||
            sr_conf_set(g.conf, "topic.prefix", prefix, &ec) ||
            sr_conf_set(g.conf, "kafka.log_level", "3", &ec) ||
            sr_conf_set(g.conf, "kafka.fetch.wait.max.ms", "5", &ec) ||
            sr_conf_set(g.conf, "kafka.linger.ms", "2", &ec))
                die("config", &ec);
        if (sr_codec_new(&g.codec, &ec) ||
            sr_producer_new(g.conf, "chaos-loadgen", &g.prod, &ec) ||
            sr_producer_new(g.conf, "chaos-poison", &g.poison, &ec))
                die("setup", &ec);
        for (int p = 0; p < parts; p++) {
                rp[3 * p] = (sr_reader_part_t){ SR_TOPIC_DISPATCH, p,
                                                SR_READER_BEGINNING };
                rp[3 * p + 1] = (sr_reader_part_t){ SR_TOPIC_EVENTS, p,
                                                    SR_READER_BEGINNING };
                rp[3 * p + 2] = (sr_reader_part_t){ SR_TOPIC_REPLIES, p,
                                                    SR_READER_BEGINNING };
        }
        if (sr_reader_new(g.conf, rp, 3 * parts, &g.reader, &ec))
                die("reader", &ec);
        g.runs = calloc(MAX_RUNS, sizeof(*g.runs));
        g.run_idx = calloc(RUN_HASH, sizeof(*g.run_idx));
        g.answered = calloc(ANS_HASH, sizeof(*g.answered));
        g.answered_used = calloc(ANS_HASH, sizeof(*g.answered_used));
        g.manifest = fopen(manifest, "w");
        if (!g.runs || !g.run_idx || !g.answered || !g.answered_used ||
            !g.manifest)
                die("setup: memory or manifest file", NULL);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        define_pipelines(&g, stored);

        start = now_ms();
        next_create = (double)start;
        next_poison = start + 3000;
        next_report = start + 5000;
        for (;;) {
                int64_t t = now_ms();

                if (creating && (stop_flag || t - start >= duration * 1000)) {
                        creating = false;
                        stop_at = t;
                        printf("loadgen: creation stopped after %d runs, "
                               "%" PRIu64 " poison records; draining\n",
                               g.n_runs, g.n_poison);
                        fflush(stdout);
                }
                /* every run due, unless --max-open runs are not final */
                for (int burst = 0; creating && (double)t >= next_create &&
                                    burst < 1000;
                     burst++) {
                        if (max_open && g.n_runs - g.n_final >= max_open) {
                                next_create = (double)t; /* no catch-up */
                                break;
                        }
                        create_run(&g);
                        next_create += 1000.0 / rate;
                        if (next_create < (double)(t - 1000))
                                next_create = (double)t; /* no burst after a stall */
                }
                if (creating && poison_every > 0 && t >= next_poison) {
                        inject(&g, &kinds[g.poison_next % N_KINDS]);
                        g.poison_next++;
                        next_poison = now_ms() +
                                      (int64_t)(poison_every * 1000);
                }
                pump(&g, creating ? 1 : 5);
                if (t >= next_report || !creating) {
                        open_runs = 0;
                        for (int i = 0; i < g.n_runs; i++)
                                open_runs += !g.runs[i].refused &&
                                             !sr_status_is_terminal(
                                                     g.runs[i].status);
                }
                if (t >= next_report) {
                        printf("loadgen: t=%" PRId64 "s runs=%d open=%d "
                               "dispatch=%" PRIu64 " results=%" PRIu64
                               " events=%" PRIu64 " poison=%" PRIu64 "\n",
                               (t - start) / 1000, g.n_runs, open_runs,
                               g.n_dispatch, g.n_results, g.n_events,
                               g.n_poison);
                        fflush(stdout);
                        next_report = t + 5000;
                }
                if (!creating &&
                    (open_runs == 0 || t - stop_at > drain * 1000))
                        break;
        }
        if (sr_producer_wait(g.prod, 60000, &ec) != SR_OK)
                fprintf(stderr, "loadgen: producer wait: %s\n", ec.msg);
        for (int i = 0, shown = 0; i < g.n_runs && shown < 20; i++)
                if (!g.runs[i].refused &&
                    !sr_status_is_terminal(g.runs[i].status)) {
                        char rid[SR_UUID_STR_LEN + 1];

                        sr_uuid_fmt(&g.runs[i].id, rid);
                        printf("loadgen: run %s still %s\n", rid,
                               sr_status_name(g.runs[i].status));
                        shown++;
                }
        printf("loadgen: done runs=%d open=%d dispatch=%" PRIu64
               " results=%" PRIu64 " dup_results=%" PRIu64
               " stale_results=%" PRIu64 " cancel_requests=%" PRIu64
               " promotions=%" PRIu64 " cancels=%" PRIu64 " events=%" PRIu64
               " poison=%" PRIu64 " poison_uncertain=%" PRIu64 "\n",
               g.n_runs, open_runs, g.n_dispatch, g.n_results,
               g.n_dup_results, g.n_stale_results, g.n_cancel_req,
               g.n_promote, g.n_cancel, g.n_events, g.n_poison,
               g.n_poison_uncertain);
        printf("loadgen: stored pipelines=%d runs=%" PRIu64
               " refused_starts=%" PRIu64 " success=%" PRIu64
               " wrong_targets=%" PRIu64 "\n", g.n_pipes, g.n_stored,
               g.n_stored_refused, g.n_stored_success, g.n_stored_wrong);
        rc = open_runs ? 3 : 0;
        if (!rc && (g.n_stored_wrong || g.n_setup ||
                    (g.n_pipes && !g.n_stored_success))) {
                printf("loadgen: runs of stored pipelines: %" PRIu64
                       " with the wrong targets, %d definition commands "
                       "unanswered, %" PRIu64 " succeeded\n",
                       g.n_stored_wrong, g.n_setup,
                       g.n_stored_success);
                rc = 4;
        }
        if (stats) {
                FILE *f = fopen(stats, "w");

                if (f) {
                        fprintf(f,
                                "{\"runs\":%d,\"open\":%d,\"dispatch\":%" PRIu64
                                ",\"results\":%" PRIu64
                                ",\"dup_results\":%" PRIu64
                                ",\"stale_results\":%" PRIu64
                                ",\"cancel_requests\":%" PRIu64
                                ",\"promotions\":%" PRIu64
                                ",\"cancels\":%" PRIu64 ",\"poison\":%" PRIu64
                                ",\"poison_uncertain\":%" PRIu64
                                ",\"stored_runs\":%" PRIu64
                                ",\"stored_refused\":%" PRIu64
                                ",\"stored_success\":%" PRIu64 "}\n",
                                g.n_runs, open_runs, g.n_dispatch,
                                g.n_results, g.n_dup_results,
                                g.n_stale_results, g.n_cancel_req,
                                g.n_promote, g.n_cancel, g.n_poison,
                                g.n_poison_uncertain, g.n_stored,
                                g.n_stored_refused, g.n_stored_success);
                        fclose(f);
                }
        }
        fclose(g.manifest);
        sr_reader_destroy(g.reader);
        sr_producer_destroy(g.poison);
        sr_producer_destroy(g.prod);
        sr_codec_destroy(g.codec);
        sr_conf_destroy(g.conf);
        free(g.runs);
        free(g.run_idx);
        free(g.answered);
        free(g.answered_used);
        free(g.setup_cmds);
        return rc;
}
