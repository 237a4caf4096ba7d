/* common/domain/sr_groups.h - device groups: the directory the platform
 * feeds, and the run-start snapshot of a group's members
 * (docs/definitions.md section 6).
 *
 * Pure, as sr_defs.h: no I/O, no clock (the input's timestamp is a
 * parameter), no logging. The owner of a group is the sr-status worker of
 * the partition of its id (the commands are keyed by group_id). A group
 * is one record (name, version, member count) and one record per member,
 * on sr.changelog under G<group>/g and G<group>/m/<device>; the rules
 * take the group and the members a command names, as the caller read them
 * by key, and say what to write. A refusal changes nothing.
 *
 * On the wire as Command version 8 (PutGroup ... GroupMembers) and
 * ChangelogRecord version 4 (DeviceGroup ... RunGroupCopy):
 * common/codec/sr_codec_groups.c.
 */
#ifndef SR_GROUPS_H
#define SR_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_defs.h"
#include "sr_err.h"
#include "sr_model.h"

/* ------------------------------------------------------------ commands */

#define SR_GRPCMD_MAP(X)                                                \
        X(PUT_GROUP, "PutGroup")                                        \
        X(PUT_MEMBERS, "PutGroupMembers")                               \
        X(REMOVE_MEMBERS, "RemoveGroupMembers")                         \
        X(DELETE_GROUP, "DeleteGroup")                                  \
        X(SNAPSHOT, "SnapshotGroup")                                    \
        X(MEMBERS, "GroupMembers")                                      \
        X(DROP_COPIES, "DropRunCopies")

typedef enum sr_grpcmd_kind {
#define SR_GRPCMD_ENUM(name, text) SR_GRPCMD_##name,
        SR_GRPCMD_MAP(SR_GRPCMD_ENUM)
#undef SR_GRPCMD_ENUM
        SR_GRPCMD__COUNT
} sr_grpcmd_kind_t;

/** @brief "PutGroup", ... (the command's record name). Static; NULL out
 *  of range. */
const char *sr_grpcmd_name(sr_grpcmd_kind_t k);

/* A device-group command (SR_CMD_GROUP's u.grp). The key, the command's
 * pipeline_run_id, is the group for every kind but GroupMembers and
 * DropRunCopies (the pipeline). */
typedef struct sr_grpcmd {
        sr_grpcmd_kind_t kind;
        sr_uuid_t command_id;
        char enterprise_id[SR_SHORT_MAX];
        int64_t issued_at;
        sr_uuid_t group_id;
        bool has_expected_version; /* refused stale_version when stale */
        uint32_t expected_version;
        /* PUT_GROUP: the name; has_name false: unchanged (a create needs
         * one). */
        bool has_name;
        char name[SR_NAME_MAX];
        /* PUT_MEMBERS, MEMBERS: the members; REMOVE_MEMBERS: only their
         * device_id. group_id of an item is not on the wire. */
        uint32_t chunk;
        uint32_t n_items;
        sr_def_group_member_t *items; /* owned */
        /* SNAPSHOT, MEMBERS, DROP_COPIES: the run started from the
         * pipeline (DROP_COPIES: its step number in chunk). */
        sr_uuid_t pipeline_id;
        sr_uuid_t pipeline_run_id;
        /* SNAPSHOT: the cursor (the last device id sent; nil: the first),
         * members sent so far and the SHA-256 state over the chunks'
         * digests (as a FillStep's seal_state: 32 or 64 bytes). */
        sr_uuid_t after;
        uint64_t count;
        uint32_t seal_state_len;
        uint8_t seal_state[64];
        /* MEMBERS: the closing record (count, digest; chunk = chunks). */
        bool closing;
        uint8_t digest[SR_DIGEST_LEN];
} sr_grpcmd_t;

/** @brief Free what @p c owns (not @p c itself). NULL ok. */
void sr_grpcmd_fini(sr_grpcmd_t *c);

/**
 * @brief A group command of @p kind in @p c (zeroed first): the envelope
 * (kind SR_CMD_GROUP, @p command_id, the key @p key as pipeline_run_id,
 * @p enterprise, @p ts) and a new sr_grpcmd_t with the same fields, its
 * group_id (or, GroupMembers and DropRunCopies, its pipeline_id) the key.
 * The caller fills the rest and frees it with sr_command_fini().
 * @returns the command's sr_grpcmd_t, NULL when out of memory.
 */
sr_grpcmd_t *sr_grpcmd_new(sr_command_t *c, sr_grpcmd_kind_t kind,
                           const sr_uuid_t *key, const sr_uuid_t *command_id,
                           const char *enterprise, int64_t ts);

/* ------------------------------------------------------------ the group */

/* The group aggregate: its record. exists false: not in the directory. */
typedef struct sr_group {
        bool exists;
        sr_uuid_t id;
        char enterprise_id[SR_SHORT_MAX];
        char name[SR_NAME_MAX];
        uint64_t n_members;
        sr_def_audit_t a;
} sr_group_t;

/* ------------------------------------------------------------ records */

typedef enum sr_group_rec_kind {
        SR_GREC_GROUP = 0,   /* G<group>/g */
        SR_GREC_MEMBER,      /* G<group>/m/<device> */
        SR_GREC_COPY_MEMBER, /* P<pipeline>/r/<run>/m/<group>/<device> */
        SR_GREC_COPY_CLOSE,  /* P<pipeline>/r/<run>/s/<group> */
        SR_GREC__COUNT
} sr_group_rec_kind_t;

/* One changelog record of the directory or of a run's copy (SR_CL_GROUP,
 * ChangelogRecord version 4). Owns nothing. */
typedef struct sr_group_record {
        sr_group_rec_kind_t kind;
        char enterprise_id[SR_SHORT_MAX];
        sr_group_t group;            /* GROUP */
        sr_def_group_member_t member; /* MEMBER, COPY_MEMBER */
        /* COPY_MEMBER, COPY_CLOSE */
        sr_uuid_t pipeline_id;
        sr_uuid_t pipeline_run_id;
        sr_uuid_t group_id; /* COPY_CLOSE (COPY_MEMBER: member.group_id) */
        uint64_t count;     /* COPY_CLOSE: members stored so far */
        uint32_t chunks;    /* COPY_CLOSE: chunks stored so far */
        bool closed;        /* COPY_CLOSE: count and digest matched */
        /* COPY_CLOSE: open, the SHA-256 state over the stored chunks'
         * digests (sr_sha256_save(): 32 or 64 bytes); closed, the digest
         * (32). */
        uint32_t state_len;
        uint8_t state[64];
} sr_group_record_t;

/* Keys (docs/definitions.md section 6). The first byte 'G' is not a hex
 * digit, so no run key is one of them; 76 bytes at most, no NUL. */
#define SR_GROUP_KEY_LEN (1 + SR_UUID_STR_LEN + 3 + SR_UUID_STR_LEN)

/** @brief "G<group>/g". @returns its length (39). */
size_t sr_group_key(const sr_uuid_t *group, char out[SR_GROUP_KEY_LEN]);
/** @brief "G<group>/m/<device>". @returns SR_GROUP_KEY_LEN. */
size_t sr_group_member_key(const sr_uuid_t *group, const sr_uuid_t *device,
                           char out[SR_GROUP_KEY_LEN]);
/** @brief "G<group>/m/": the prefix of the members' keys. @returns 40. */
size_t sr_group_members_prefix(const sr_uuid_t *group,
                               char out[SR_GROUP_KEY_LEN]);
/** @brief "G<group>/d/<command>": a group command's dedupe entry. */
size_t sr_group_dedupe_key(const sr_uuid_t *group, const sr_uuid_t *command,
                           char out[SR_GROUP_KEY_LEN]);
/**
 * @brief Parse a directory key: *kind SR_GREC_GROUP or SR_GREC_MEMBER
 * (@p device set), or SR_GREC__COUNT for a dedupe key (@p device the
 * command). @returns false for any other key.
 */
bool sr_group_key_parse(const char *key, size_t len, sr_uuid_t *group,
                        sr_group_rec_kind_t *kind, sr_uuid_t *device);

/* ------------------------------------------------------------ the rules */

/* What one directory command did. accepted false: reason and message say
 * why, and nothing is written but the reply and the dedupe entry. */
typedef struct sr_groups_out {
        bool accepted;
        sr_reject_t reason;
        char message[SR_NAME_MAX];
        uint32_t version; /* the group's after it; on stale_version now */
        /* PUT_MEMBERS: created, updated (added), identical (skipped);
         * REMOVE_MEMBERS: removed (added), absent (skipped). */
        uint32_t created, added, skipped;
        bool group_put;     /* write the group's record (g after it) */
        bool group_deleted; /* tombstone the group's record */
        uint32_t n_put, n_del;
        sr_def_group_member_t *put; /* owned: member records to write */
        sr_uuid_t *del;             /* owned: device ids to tombstone */
} sr_groups_out_t;

/** @brief Free what @p out owns and zero it. NULL ok. */
void sr_groups_out_fini(sr_groups_out_t *out);

/**
 * Apply one directory command (PUT_GROUP, PUT_MEMBERS, REMOVE_MEMBERS,
 * DELETE_GROUP) to group @p g.
 *
 * Order of checks: the group (unknown, or of another enterprise:
 * not_found, never revealing it; a create of an unknown group with an
 * expected_version: invalid_value), the version (stale_version), the
 * fields (a name of 1..255 bytes of UTF-8; items: at most
 * @p chunk_targets, each device once, a name of 1..255 bytes), then
 * in_use (a delete of a group with members).
 *
 * @param g      the group (exists false when unknown); changed in place
 *               only when accepted.
 * @param cmd    the command.
 * @param found  PUT_MEMBERS, REMOVE_MEMBERS: found[i] is the stored member
 *               of items[i] (NULL: not a member), as the caller read it.
 * @param now    the input's timestamp (ms): audit times.
 * @param chunk_targets definition.chunk.targets (0: no limit).
 * @param out    zeroed by the caller, or reused after sr_groups_out_fini.
 * @returns SR_OK (accepted or refused: see out), SR_ERR_NOMEM, or
 *          SR_ERR_INVALID for another kind of command.
 */
sr_err_t sr_groups_apply(sr_group_t *g, const sr_grpcmd_t *cmd,
                         const sr_def_group_member_t *const *found,
                         int64_t now, uint32_t chunk_targets,
                         sr_groups_out_t *out);

/* ------------------------------------------------------------ copies */

/* A run's frozen copy of a group, under its pipeline (section 6):
 * "P<pipeline>/r/<run>/m/<group>/<device>" a member,
 * "P<pipeline>/r/<run>/s/<group>" its progress and closing record, all
 * under "P<pipeline>/r/<run>/", the active run's key and a '/': 152 bytes
 * at most (the store's keys hold 400). */
#define SR_GROUP_COPY_KEY_LEN (1 + 4 * SR_UUID_STR_LEN + 3 + 3 + 1)

/** @brief "P<pipeline>/r/<run>/": the prefix of every copy of the run. */
size_t sr_group_copy_prefix(const sr_uuid_t *pipeline, const sr_uuid_t *run,
                            char out[SR_GROUP_COPY_KEY_LEN]);
/** @brief "P<pipeline>/r/<run>/m/<group>/" (@p device NULL) or with the
 *  device: a member of the copy. */
size_t sr_group_copy_member_key(const sr_uuid_t *pipeline,
                                const sr_uuid_t *run, const sr_uuid_t *group,
                                const sr_uuid_t *device,
                                char out[SR_GROUP_COPY_KEY_LEN]);
/** @brief "P<pipeline>/r/<run>/s/<group>": the copy's progress record. */
size_t sr_group_copy_state_key(const sr_uuid_t *pipeline,
                               const sr_uuid_t *run, const sr_uuid_t *group,
                               char out[SR_GROUP_COPY_KEY_LEN]);

/**
 * @brief The digest of one GroupMembers chunk: SHA-256 over each member's
 * device id (16 bytes), name and alias (each with its NUL), in order. Both
 * owners compute it: the group's when it sends, the pipeline's when it
 * stores, so the closing record's digest checks the copy.
 */
void sr_group_chunk_digest(const sr_def_group_member_t *items, uint32_t n,
                           uint8_t out[SR_DIGEST_LEN]);

/**
 * @brief The distinct device groups linked to the GROUPS lists attached to
 * stage @p stage of @p d (NULL: to any stage), in attachment order then
 * link order, into a malloc'd array (free()). @returns their count;
 * *groups NULL when none or out of memory (*nomem then set).
 */
uint32_t sr_defs_linked_groups(const sr_defs_t *d, const sr_uuid_t *stage,
                               sr_uuid_t **groups, bool *nomem);

/** @brief The reply's entity_type of a device group ("device_group"),
 *  beside sr_def_kind_t's (sr_reply_def_t.entity_kind). */
#define SR_REPLY_KIND_DEVICE_GROUP ((int)SR_DEF__COUNT)

#endif /* SR_GROUPS_H */
