/* workers/cli/targets.h - what sr-cli's `run create --targets-file` does
 * without the network (docs/targets.md, section 5): a targets file read
 * and cut into chunks, each chunk's request body and digest, the seal's
 * body, and the run spec's stage marked open. Pure (no I/O, no clock);
 * tests/unit/cli/test_targets.c.
 *
 * A targets file is a JSON array of targets, or JSON lines: one target
 * object per line, blank lines skipped (told apart by the first
 * character that is not white space: '[' or not). Each target is what a
 * run spec's inline target is ({"device_id", "device_name"?,
 * "device_alias"?, "target_id"?}), checked by the same decoder
 * (sr_spec_json_target()).
 */
#ifndef SR_CLI_TARGETS_H
#define SR_CLI_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_model.h"

/* The most targets one file may hold: stage.max.targets' upper bound
 * with chunks (docs/targets.md, section 7). */
#define SR_CLI_TARGETS_MAX 10000000u

/* A file's targets as the requests that carry them. Only the bodies are
 * kept, not the decoded items: memory about the file's size, not the
 * decoded structs' (544 bytes a target). */
typedef struct sr_cli_chunks {
        uint32_t n;       /* chunks; 0 for an empty file */
        uint64_t count;   /* targets in all */
        char **bodies;    /* owned, n: {"chunk": i, "targets": [...]} */
        uint32_t *sizes;  /* owned, n: targets of chunk i */
        uint8_t (*digests)[SR_DIGEST_LEN]; /* owned, n: sr_targets_digest() */
        uint8_t seal[SR_DIGEST_LEN];       /* sr_seal_digest() of them */
} sr_cli_chunks_t;

/**
 * @brief Read the targets of @p text (a targets file) into chunks of at
 * most @p per targets, in the file's order.
 * @param[in] name the file's name in messages: "<name>: targets[3].
 *            device_id: expected a UUID string, got 42" (array), or
 *            "<name>:12: device_id: ..." (line 12).
 * @param[out] out set on SR_OK only; sr_cli_chunks_fini() frees it.
 * @returns SR_OK, SR_ERR_INVALID (@p ec says where and what) or
 *          SR_ERR_NOMEM.
 */
sr_err_t sr_cli_chunks_read(const char *text, size_t len, const char *name,
                            uint32_t per, sr_cli_chunks_t *out,
                            sr_errctx_t *ec);

/** @brief Free what @p c owns; zeroes it. NULL ok. */
void sr_cli_chunks_fini(sr_cli_chunks_t *c);

/**
 * @brief The seal's body, {"chunks": n, "count": N, "digest": "<hex>"}.
 * @returns malloc'd text, or NULL when out of memory.
 */
char *sr_cli_seal_body(const sr_cli_chunks_t *c);

/**
 * @brief Mark stage @p stage of @p spec open (docs/targets.md, section 1):
 * its targets {"append": true, "expected": @p expected}.
 * @param[in] stage a 0-based index ("2") or a stage's name (which must
 *            name one stage only).
 * @param[out] index the stage's index.
 * @returns SR_OK; SR_ERR_INVALID when no stage (or several) is named, or
 *          the stage has inline targets or is open already.
 */
sr_err_t sr_cli_open_stage(sr_runspec_t *spec, const char *stage,
                           uint64_t expected, uint32_t *index,
                           sr_errctx_t *ec);

#endif /* SR_CLI_TARGETS_H */
