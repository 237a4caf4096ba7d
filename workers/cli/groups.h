/* workers/cli/groups.h - sr-cli's device-group directory commands
 * (docs/definitions.md section 6): `groups put` reads a CSV of members,
 * diffs it against the group read from the changelog and sends the
 * commands; `groups rm` empties and deletes a group. The CSV reading and
 * the diff are pure (groups_csv.c; tests/unit/cli/test_groups_csv.c), the
 * rest talks to Kafka (groups.c). */
#ifndef SR_CLI_GROUPS_H
#define SR_CLI_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "commands.h"
#include "sr_err.h"
#include "sr_groups.h"

/**
 * @brief Read a members CSV: one `device_id,device_name[,device_alias]`
 * per line, a first line `device_id,device_name,device_alias` (or without
 * the alias) skipped as a header, blank lines skipped, "\r\n" accepted. No
 * quoting: a name holds no comma. Each device at most once; a name of 1 to
 * 255 bytes, an alias of at most 255.
 * @param name the file's name in messages: "<name>:<line>: ...".
 * @param[out] out, n set on SR_OK only: a malloc'd array (free()), each
 *             item's group_id @p group; NULL and 0 for no member.
 * @returns SR_OK, SR_ERR_INVALID (@p ec names the line and what is
 *          wrong), SR_ERR_NOMEM.
 */
sr_err_t sr_cli_groups_csv(const char *text, size_t len, const char *name,
                           const sr_uuid_t *group,
                           sr_def_group_member_t **out, size_t *n,
                           sr_errctx_t *ec);

/* What `groups put` sends: the members to put (new or changed) and the
 * devices to remove (in the group, not in the file), in device id order. */
typedef struct sr_cli_groups_diff {
        size_t n_put, n_del;
        sr_def_group_member_t *put; /* owned */
        sr_def_group_member_t *del; /* owned (device_id only) */
} sr_cli_groups_diff_t;

/**
 * @brief The diff of @p want (the file) against @p have (the group's
 * members now); both arrays are sorted by device id in place.
 * @returns SR_OK or SR_ERR_NOMEM (@p out untouched).
 */
sr_err_t sr_cli_groups_diff(sr_def_group_member_t *want, size_t n_want,
                            sr_def_group_member_t *have, size_t n_have,
                            sr_cli_groups_diff_t *out);
/** @brief Free what @p d owns; zeroes it. */
void sr_cli_groups_diff_fini(sr_cli_groups_diff_t *d);

/** @brief groups put --group G [--name N] FILE (groups.c). */
int sr_cli_groups_put(struct cli *cli, const char *group, const char *name,
                      const char *file);
/** @brief groups rm --group G: every member removed, then DeleteGroup. */
int sr_cli_groups_rm(struct cli *cli, const char *group);

#endif /* SR_CLI_GROUPS_H */
