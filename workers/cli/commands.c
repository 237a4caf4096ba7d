/* workers/cli/commands.c - what sr-cli's subcommands do on Kafka: start a
 * run from a spec, set a status, watch events or replies. */
#include "commands.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "sr_app.h"
#include "sr_clock.h"
#include "sr_kafka.h"
#include "sr_spec_json.h"

#define SPEC_MAX (4u << 20)

bool sr_cli_parse_uuid(const char *what, const char *s, sr_uuid_t *out)
{
        if (s && sr_uuid_parse(s, strlen(s), out))
                return true;
        fprintf(stderr, "sr-cli: %s: expected a UUID, got \"%s\"\n", what,
                s ? s : "");
        return false;
}

/* Encode @p cmd and send it keyed by its run; wait for the broker. */
static int send_command(struct cli *cli, sr_command_t *cmd)
{
        char key[SR_UUID_STR_LEN + 1];
        sr_producer_t *p = NULL;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { NULL, 0 };
        sr_outrec_t rec;
        int rc = EX_UNAVAILABLE;

        snprintf(cmd->enterprise_id, sizeof(cmd->enterprise_id), "%s",
                 cli->enterprise);
        cmd->issued_at = sr_clock_wall_ms();
        sr_uuid_v4(&cmd->command_id);
        if (sr_codec_encode_command(cli->codec, cmd, &val, &ec)) {
                fprintf(stderr, "sr-cli: %s\n", ec.msg);
                return EX_DATAERR;
        }
        memset(&rec, 0, sizeof(rec));
        sr_uuid_fmt(&cmd->pipeline_run_id, key);
        rec.topic = SR_TOPIC_COMMANDS;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&val);
        rec.timestamp = cmd->issued_at;
        if (sr_producer_new(cli->conf, "sr-cli", &p, &ec) ||
            sr_producer_send(p, &rec, &ec) ||
            sr_producer_wait(p, 30000, &ec)) {
                fprintf(stderr, "sr-cli: %s\n", ec.msg);
        } else {
                rc = EXIT_SUCCESS;
        }
        sr_producer_destroy(p);
        sr_buf_free(&val);
        return rc;
}

static char *read_file(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf = malloc(SPEC_MAX + 1);

        if (!f || !buf) {
                if (f)
                        fclose(f);
                free(buf);
                return NULL;
        }
        *len = fread(buf, 1, SPEC_MAX + 1, f);
        if (ferror(f) || *len > SPEC_MAX) {
                fclose(f);
                free(buf);
                return NULL;
        }
        fclose(f);
        return buf;
}

int sr_cli_run(struct cli *cli)
{
        char id[SR_UUID_STR_LEN + 1];
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        size_t len = 0;
        char *text;
        int rc;

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_CREATE_RUN;
        if (cli->run_id &&
            !sr_cli_parse_uuid("--run-id", cli->run_id, &cmd.pipeline_run_id))
                return EX_USAGE;
        if (!cli->run_id)
                sr_uuid_v4(&cmd.pipeline_run_id);
        text = read_file(cli->spec_path, &len);
        if (!text) {
                fprintf(stderr, "sr-cli: %s: cannot read (or larger than "
                        "%u bytes)\n", cli->spec_path, SPEC_MAX);
                return EX_NOINPUT;
        }
        if (sr_spec_json_parse(text, len, &cmd.u.create.spec, &ec)) {
                fprintf(stderr, "sr-cli: %s: %s\n", cli->spec_path, ec.msg);
                free(text);
                return EX_DATAERR;
        }
        free(text);
        rc = send_command(cli, &cmd);
        if (rc == EXIT_SUCCESS) {
                sr_uuid_fmt(&cmd.pipeline_run_id, id);
                printf("run=%s\n", id);
        }
        sr_command_fini(&cmd);
        return rc;
}

/* Send @p cmd (its run id and payload set); prints command=<id>. */
static int send_printed(struct cli *cli, sr_command_t *cmd)
{
        char id[SR_UUID_STR_LEN + 1];
        int rc = send_command(cli, cmd);

        if (rc == EXIT_SUCCESS) {
                sr_uuid_fmt(&cmd->command_id, id);
                printf("command=%s\n", id);
        }
        return rc;
}

int sr_cli_delete(struct cli *cli, const char *pipeline_id)
{
        sr_command_t cmd;

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_DELETE_RUN;
        if (!sr_cli_parse_uuid("RUN_ID", cli->run_id, &cmd.pipeline_run_id) ||
            !sr_cli_parse_uuid("PIPELINE_ID", pipeline_id,
                               &cmd.u.del.pipeline_id))
                return EX_USAGE;
        return send_printed(cli, &cmd);
}

/* promote and cancel: a SET_*_STATUS command. */
int sr_cli_set(struct cli *cli, const char *status)
{
        sr_command_t cmd;

        memset(&cmd, 0, sizeof(cmd));
        if (!sr_cli_parse_uuid("RUN_ID", cli->run_id, &cmd.pipeline_run_id))
                return EX_USAGE;
        cmd.kind = SR_CMD_SET_PIPELINE_RUN_STATUS;
        if (cli->stage_run_id) {
                cmd.kind = SR_CMD_SET_STAGE_RUN_STATUS;
                if (!sr_cli_parse_uuid("STAGE_RUN_ID", cli->stage_run_id,
                                    &cmd.u.set.entity_id))
                        return EX_USAGE;
        }
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s", status);
        return send_printed(cli, &cmd);
}

static void print_event(struct cli *cli, const sr_inrec_t *rec)
{
        char run[SR_UUID_STR_LEN + 1], id[SR_UUID_STR_LEN + 1];
        sr_errctx_t ec = { 0 };
        sr_event_t ev;

        if (sr_codec_decode_event(cli->codec, rec->value, &ev, &ec)) {
                printf("partition=%d offset=%" PRId64 " undecodable: %s\n",
                       (int)rec->partition, rec->offset, ec.msg);
                return;
        }
        if (!sr_uuid_is_nil(&cli->filter_run) &&
            !sr_uuid_eq(&cli->filter_run, &ev.pipeline_run_id))
                return;
        sr_uuid_fmt(&ev.pipeline_run_id, run);
        sr_uuid_fmt(&ev.entity_id, id);
        printf("seq=%" PRIu64 " run=%s entity=%s id=%s %s -> %s reason=%s "
               "v=%" PRIu32 "\n", ev.seq, run,
               sr_entity_type_name(ev.entity_type), id,
               ev.from_status == SR_ST_NONE ? "(none)" :
                                              sr_status_name(ev.from_status),
               sr_status_name(ev.to_status), ev.reason[0] ? ev.reason : "-",
               ev.version);
}

static void print_reply(struct cli *cli, const sr_inrec_t *rec)
{
        char cmd[SR_UUID_STR_LEN + 1], run[SR_UUID_STR_LEN + 1];
        char id[SR_UUID_STR_LEN + 1];
        sr_errctx_t ec = { 0 };
        sr_reply_t r;

        if (sr_codec_decode_reply(cli->codec, rec->value, &r, &ec)) {
                printf("partition=%d offset=%" PRId64 " undecodable: %s\n",
                       (int)rec->partition, rec->offset, ec.msg);
                return;
        }
        sr_uuid_fmt(&r.command_id, cmd);
        sr_uuid_fmt(&r.pipeline_run_id, run);
        printf("command=%s run=%s accepted=%s reason=%s message=\"%s\"", cmd,
               run, r.accepted ? "true" : "false", sr_reject_name(r.reason),
               r.message);
        for (uint32_t i = 0; i < r.n_versions; i++) {
                sr_uuid_fmt(&r.versions[i].entity_id, id);
                printf("%s%s:%s@%" PRIu32, i ? "," : " versions=",
                       sr_entity_type_name(r.versions[i].entity_type), id,
                       r.versions[i].version);
        }
        printf("\n");
}

/* Without --from-beginning, start every partition at its end. */
static void start_at_end(void *arg, const int32_t *parts, int n,
                         int64_t *starts)
{
        struct cli *cli = arg;
        sr_errctx_t ec = { 0 };
        int64_t lo, hi;

        for (int i = 0; i < n && !cli->from_beginning; i++) {
                if (sr_kafka_watermarks(cli->conf, cli->topic, parts[i], &lo,
                                        &hi, 10000, &ec))
                        fprintf(stderr, "sr-cli: %s\n", ec.msg);
                else
                        starts[i * 2] = hi;
        }
}

/* follow / replies: a consumer in a throw-away group, so every partition
 * is ours; prints until SIGINT/SIGTERM. */
int sr_cli_watch(struct cli *cli, sr_topic_kind_t topic)
{
        sr_consumer_hooks_t hooks = { start_at_end, NULL, cli };
        char group[64], id[SR_UUID_STR_LEN + 1];
        sr_consumer_t *c = NULL;
        sr_errctx_t ec = { 0 };
        sr_inrec_t recs[256];
        sr_err_t err = SR_OK;
        sr_uuid_t u;
        int n;

        cli->topic = topic;
        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, id);
        snprintf(group, sizeof(group), "sr-cli-%s", id);
        if (sr_consumer_new(cli->conf, group, &topic, 1, &hooks, &c, &ec)) {
                fprintf(stderr, "sr-cli: %s\n", ec.msg);
                return EX_UNAVAILABLE;
        }
        while (!*cli->stop) {
                if ((err = sr_consumer_poll(c, recs, 256, &n, 200, &ec))) {
                        fprintf(stderr, "sr-cli: %s\n", ec.msg);
                        break;
                }
                for (int i = 0; i < n; i++)
                        if (topic == SR_TOPIC_EVENTS)
                                print_event(cli, &recs[i]);
                        else
                                print_reply(cli, &recs[i]);
                fflush(stdout);
        }
        sr_consumer_destroy(c);
        return err ? sr_app_exit_status(err) : EXIT_SUCCESS;
}

