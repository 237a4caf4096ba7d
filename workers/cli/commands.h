/* workers/cli/commands.h - sr-cli's subcommands (commands.c). */
#ifndef SR_CLI_COMMANDS_H
#define SR_CLI_COMMANDS_H

#include <signal.h>
#include <stdbool.h>

#include "sr_codec.h"
#include "sr_conf.h"
#include "sr_kafka.h"
#include "sr_model.h"

/* --targets-file options of one `run create`. */
#define SR_CLI_MAX_TARGET_FILES 64

/* What the command line said; everything borrowed from argv and main. */
struct cli {
        const sr_conf_t *conf;
        sr_codec_t *codec;
        const char *run_id, *stage_run_id, *spec_path;
        const char *enterprise;
        bool from_beginning;
        sr_topic_kind_t topic; /* follow/replies: the topic watched */
        sr_uuid_t filter_run;  /* nil: every run */
        const volatile sig_atomic_t *stop; /* set by SIGINT/SIGTERM */
        /* run create (through the gateway) */
        const char *gateway;    /* --gateway http://HOST[:PORT][/PREFIX] */
        const char *token_file; /* --token-file; NULL: SR_API_TOKENS */
        const char *targets_files[SR_CLI_MAX_TARGET_FILES]; /* STAGE:FILE */
        int n_targets_files;
        int chunk_targets; /* --chunk-targets, 1..10000 (1000) */
        int in_flight;     /* --in-flight, 1..64 (4) */
        /* groups put / rm */
        const char *group;      /* --group G */
        const char *group_name; /* --name N */
};

/* Each returns main()'s exit code and prints what it did. */
/** @brief run SPEC.json: CreateRun; prints run=<id>. */
int sr_cli_run(struct cli *cli);
/** @brief run create SPEC.json: POST /v0/runs/ through the gateway,
 *  each --targets-file's stage open, its targets sent in chunks and
 *  sealed (create.c); prints run=<id>, then each sealed stage run as one
 *  JSON line. */
int sr_cli_create(struct cli *cli);
/** @brief promote/cancel: a SetStageRunStatus or SetPipelineRunStatus
 *  command; prints command=<id>. */
int sr_cli_set(struct cli *cli, const char *status);
/** @brief delete: a DeleteRun command for RUN_ID under @p pipeline_id
 *  (the worker refuses a run not finished); prints command=<id>. */
int sr_cli_delete(struct cli *cli, const char *pipeline_id);
/** @brief follow/replies: one line per event or reply until stopped. */
int sr_cli_watch(struct cli *cli, sr_topic_kind_t topic);
/** @brief Parse a UUID argument, or say which argument was bad. */
bool sr_cli_parse_uuid(const char *what, const char *s, sr_uuid_t *out);

#endif /* SR_CLI_COMMANDS_H */
