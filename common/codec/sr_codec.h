/* common/codec/sr_codec.h - Avro (avro-c) encoding and decoding of every record
 * that travels on Kafka, in the Confluent wire format: byte 0 = 0x00, a
 * 4-byte big-endian schema id, then the Avro binary body.
 *
 * One sr_codec_t per thread: it holds the parsed schemas, value interfaces
 * and reusable values and memory, and is not thread-safe. Decoding is pure
 * (no I/O, no clock, no logging) and total: any input bytes give SR_OK or an
 * error, never a crash. Out-parameters are written only on SR_OK.
 *
 * Decode error classes (they become dead-letter reasons):
 * - SR_ERR_CORRUPT: shorter than 5 bytes, bad magic byte, truncated or
 *   undecodable Avro body, trailing bytes after the body.
 * - SR_ERR_SCHEMA: unknown schema id, a known id that is not the one the
 *   call expects, or a record that violates the rules: malformed UUID text,
 *   unknown enum/status text, a result's unknown command status, strings
 *   longer than the C buffer, negative counts, absurd array sizes.
 * Messages say what and where: "result: field command_status: ...".
 *
 * Wire conventions (the .avsc files): statuses are lower-case strings
 * (accepted in any case); entity types and dispatch kinds are Avro enums;
 * ids are canonical UUID text, and a nil id is null where the field is
 * ["null", uuid]; times are ms since the Unix epoch.
 */
#ifndef SR_CODEC_H
#define SR_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_defs.h"
#include "sr_groups.h"
#include "sr_model.h"
#include "sr_slice.h"

typedef struct sr_codec sr_codec_t; /* opaque; one per thread */

/* The schema slots: one per kind of record. The built-in id of each
 * slot's newest version is sr_schema_builtin_id() (the slot's own number,
 * except commands: id 17, Command version 8, the changelog: id 18,
 * ChangelogRecord version 4, replies: id 13, CommandReply version 2, and
 * definition events: id 14); older versions a slot still reads are
 * sr_schema_older[]. A record is written in the oldest version that
 * carries it (docs/schemas.md, "Our own readers"). The table generated
 * from schemas/registry.tsv must agree (a unit test checks it). */
typedef enum sr_schema_id {
        SR_SCHEMA_COMMAND = 1,
        SR_SCHEMA_RESULT = 2,
        SR_SCHEMA_EVENT = 3,
        SR_SCHEMA_CHANGELOG = 4,
        SR_SCHEMA_DISPATCH = 5,
        SR_SCHEMA_REPLY = 6,
        /* io.sr.v1.DefinitionChanged (definition_event.avsc, built-in id
         * 14), on <prefix>definition-events. */
        SR_SCHEMA_DEF_EVENT = 7,
        SR_SCHEMA__MAX
} sr_schema_id_t;

/* An older version of a slot's schema that the codec still reads, and
 * writes for a record it carries: a record framed with its id is decoded
 * with its own text, and the fields it lacks take their defaults
 * (docs/schemas.md, "Our own readers"). Oldest first within a slot; a
 * slot's versions are these, then the newest. */
typedef struct sr_schema_older {
        sr_schema_id_t slot;
        int32_t id; /* built-in id (schemas/registry.tsv) */
} sr_schema_older_t;

#define SR_SCHEMA_OLDER_COUNT 11
extern const sr_schema_older_t sr_schema_older[SR_SCHEMA_OLDER_COUNT];

/** @brief Built-in id of the version of @p slot that is written. */
int32_t sr_schema_builtin_id(sr_schema_id_t slot);

/* The schema id each built-in schema carries on the wire in one process:
 * the built-in ids (sr_schema_ids_builtin()) or, with schema.registry.url
 * set, the ids an external registry gave them at start-up
 * (sr_registry_register(), docs/schemas.md "An external registry"). The
 * codec writes wire[] and accepts wire[] and older[]. */
typedef struct sr_schema_ids {
        int32_t wire[SR_SCHEMA__MAX]; /* [slot]: id written; [0] unused */
        int32_t older[SR_SCHEMA_OLDER_COUNT]; /* [i]: id of sr_schema_older[i] */
} sr_schema_ids_t;

/** @brief Fill @p ids with the built-in ids. */
void sr_schema_ids_builtin(sr_schema_ids_t *ids);

/* A slot's versions are numbered as its registry subject's: 1 the oldest,
 * sr_schema_versions() the newest (the one written). */

/** @brief How many versions @p slot has (1 for a slot never changed). */
int sr_schema_versions(sr_schema_id_t slot);

/**
 * @brief The built-in id (@p ids NULL) or the id in @p ids of version @p v
 * of @p slot.
 * @returns the id, or 0 when @p slot has no version @p v.
 */
int32_t sr_schema_version_id(const sr_schema_ids_t *ids, sr_schema_id_t slot,
                             int v);

/** @brief Make @p id the id of version @p v of @p slot in @p ids.
 *  @returns false when @p slot has no version @p v. */
bool sr_schema_ids_set_version(sr_schema_ids_t *ids, sr_schema_id_t slot,
                               int v, int32_t id);

/* ------------------------------------------------------------ lifecycle */

/**
 * @brief Parse the built-in schemas and prepare reusable values and memory.
 * @param[out] codecp set on SR_OK only. The caller owns the codec and
 *                    releases it with sr_codec_destroy().
 * @param[out] ec     optional; filled on failure.
 * @returns SR_OK, SR_ERR_NOMEM or SR_ERR_SCHEMA (a built-in schema does not
 *          parse: a build defect).
 */
sr_err_t sr_codec_new(sr_codec_t **codecp, sr_errctx_t *ec);

/** @brief Free the codec and everything it holds. NULL is a no-op. */
void sr_codec_destroy(sr_codec_t *codec);

/**
 * @brief Make @p codec write and accept @p ids (copied) instead of the
 * built-in ids it starts with. Every wire id must be positive and the ids
 * distinct (a registry gives each schema its own); not checked here:
 * sr_registry_register() only returns such tables.
 */
void sr_codec_set_ids(sr_codec_t *codec, const sr_schema_ids_t *ids);

/** @brief The id @p codec writes for the built-in schema @p id. */
int32_t sr_codec_wire_id(const sr_codec_t *codec, sr_schema_id_t id);

/**
 * @brief The slot a framed record's @p wire id stands for in @p codec's
 * table (its newest version's id or an older version's).
 * @returns its sr_schema_id_t, or 0 when @p codec accepts no such id.
 */
int sr_codec_kind_of(const sr_codec_t *codec, int32_t wire);

/* ------------------------------------------------------------ framing */

/**
 * @brief Read the schema id from the Confluent header of @p in.
 * @param[in]  in  borrowed bytes; only the first 5 are read.
 * @param[out] idp set on SR_OK only.
 * @returns SR_OK, or SR_ERR_CORRUPT when @p in is shorter than 5 bytes or
 *          its first byte is not 0x00.
 */
sr_err_t sr_codec_peek_schema_id(sr_slice_t in, int32_t *idp,
                                 sr_errctx_t *ec);

/**
 * @brief Read the two ids at the start of a framed io.sr.v1.Command
 * (command_id, pipeline_run_id) without decoding the rest: enough to
 * answer a command that is not decoded (one over command.max.bytes).
 * @param[in]  in borrowed; at most the first 79 bytes are read.
 * @param[out] command_id, pipeline_run_id set on SR_OK only.
 * @returns SR_OK, SR_ERR_CORRUPT (framing) or SR_ERR_SCHEMA (not a command,
 *          or an id that is not canonical UUID text).
 */
sr_err_t sr_codec_peek_command_ids(const sr_codec_t *codec, sr_slice_t in,
                                   sr_uuid_t *command_id,
                                   sr_uuid_t *pipeline_run_id,
                                   sr_errctx_t *ec);

/**
 * @brief Built-in schema JSON text of @p id, a built-in id of
 * schemas/registry.tsv (a slot's newest: sr_schema_builtin_id()).
 * @returns static text (borrowed, valid for the life of the process), or
 *          NULL for an unknown id.
 */
const char *sr_codec_schema_json(int32_t id);

/**
 * @brief Full name of the built-in schema @p id, e.g. "io.sr.v1.Command".
 * @returns static text (borrowed, valid for the life of the process), or
 *          NULL for an unknown id.
 */
const char *sr_codec_schema_name(int32_t id);

/* ------------------------------------------------------------ commands */

/**
 * @brief Encode @p cmd as a framed io.sr.v1.Command in the oldest version
 * that carries it: version 1 (built-in id 1) for the kinds and fields it
 * has, version 2 (id 7) for AppendTargets, SealTargets, StageStep and a
 * create with an open stage, version 3 (id 9) for TargetCommand, version 4
 * (id 10) for DeleteRun, version 5 (id 11) for a definition command
 * (SR_CMD_DEFINITION: one branch per sr_defcmd_kind_t, appended in
 * SR_DEFCMD_MAP order; its pipeline_id is the command's pipeline_run_id)
 * but FillStep, version 6 (id 15) for FillStep, version 7 (id 16) for
 * AddTargetRun, version 8 (id 17) for a device-group command
 * (SR_CMD_GROUP: one branch per sr_grpcmd_kind_t after AddTargetRun's;
 * its key, the group or for GroupMembers the pipeline, is the command's
 * pipeline_run_id) (docs/schemas.md, "Our own readers"). A FillStep's seal_state_len other than 32 or 64 is
 * SR_ERR_INVALID.
 * @param[out] out set on SR_OK only; caller owns it (sr_buf_free()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_INVALID (a field the schema cannot
 *          carry, e.g. an unknown kind) or SR_ERR_SCHEMA (avro-c refused).
 */
sr_err_t sr_codec_encode_command(sr_codec_t *codec, const sr_command_t *cmd,
                                 sr_buf_t *out, sr_errctx_t *ec);

/**
 * @brief Decode a framed io.sr.v1.Command. The status text of SET_*
 *        commands is kept verbatim (any case); the state machine checks it.
 *        A version 5 definition branch gives SR_CMD_DEFINITION with u.def a
 *        malloc'd sr_defcmd_t (command_id, enterprise_id, issued_at copied
 *        from the envelope; its pipeline_id must equal pipeline_run_id, and
 *        a target list type must be DEVICES, GROUPS or COLLECTIONS, a
 *        RunEnded status a known status, a FillStep (version 6) a
 *        seal_state of 32 or 64 bytes and stage_index, chunk and count
 *        not negative, else SR_ERR_SCHEMA).
 * @param[in]  in  borrowed bytes; nothing points into them afterwards.
 * @param[out] out set on SR_OK only. The caller owns what it holds (the
 *                 create spec) and releases it with sr_command_fini().
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_decode_command(sr_codec_t *codec, sr_slice_t in,
                                 sr_command_t *out, sr_errctx_t *ec);

/* ------------------------------------------------------------ results */

/**
 * @brief Encode @p res as a framed io.sr.v1.TargetRunResult (schema 2).
 * @param[out] out set on SR_OK only; caller owns it (sr_buf_free()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_INVALID or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_encode_result(sr_codec_t *codec, const sr_result_t *res,
                                sr_buf_t *out, sr_errctx_t *ec);

/**
 * @brief Decode a framed io.sr.v1.TargetRunResult. An unknown command
 *        status is SR_ERR_SCHEMA (a poison input); a known one is kept as
 *        sent.
 * @param[out] out set on SR_OK only; owns nothing on the heap.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_decode_result(sr_codec_t *codec, sr_slice_t in,
                                sr_result_t *out, sr_errctx_t *ec);

/* ------------------------------------------------------------ events */

/**
 * @brief Encode @p ev as a framed io.sr.v1.StatusChangeEvent (schema 3).
 * @param[out] out set on SR_OK only; caller owns it (sr_buf_free()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_INVALID or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_encode_event(sr_codec_t *codec, const sr_event_t *ev,
                               sr_buf_t *out, sr_errctx_t *ec);

/**
 * @brief Decode a framed io.sr.v1.StatusChangeEvent.
 * @param[out] out set on SR_OK only; owns nothing on the heap.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_decode_event(sr_codec_t *codec, sr_slice_t in,
                               sr_event_t *out, sr_errctx_t *ec);

/* ------------------------------------------------------------ dispatch */

/**
 * @brief Encode @p d as a framed io.sr.v1.DispatchRequest (schema 5).
 *        A NULL args_json is encoded as "{}".
 * @param[out] out set on SR_OK only; caller owns it (sr_buf_free()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_INVALID or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_encode_dispatch(sr_codec_t *codec, const sr_dispatch_t *d,
                                  sr_buf_t *out, sr_errctx_t *ec);

/**
 * @brief Decode a framed io.sr.v1.DispatchRequest.
 * @param[out] out        set on SR_OK only; out->args_json points to
 *                        *args_owned.
 * @param[out] args_owned set on SR_OK only to a malloc'd NUL-terminated
 *                        string; the caller owns it and frees it with
 *                        free() once done with @p out.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_decode_dispatch(sr_codec_t *codec, sr_slice_t in,
                                  sr_dispatch_t *out, char **args_owned,
                                  sr_errctx_t *ec);

/* ------------------------------------------------------------ replies */

/**
 * @brief Encode @p reply as a framed io.sr.v1.CommandReply in the oldest
 * version that carries it: version 1 (built-in id 6) unless has_def,
 * version 2 (id 13, its `definition` part) when has_def.
 * @param[out] out set on SR_OK only; caller owns it (sr_buf_free()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_INVALID or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_encode_reply(sr_codec_t *codec, const sr_reply_t *reply,
                               sr_buf_t *out, sr_errctx_t *ec);

/**
 * @brief Decode a framed io.sr.v1.CommandReply of either version (a
 *        version 1 body, or a version 2 one whose definition is null,
 *        gives has_def false). More than SR_REPLY_MAX_VERSIONS versions,
 *        an unknown definition entity_type is SR_ERR_SCHEMA.
 * @param[out] out set on SR_OK only; owns nothing on the heap.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_decode_reply(sr_codec_t *codec, sr_slice_t in,
                               sr_reply_t *out, sr_errctx_t *ec);

/* ------------------------------------------------------------ changelog */

/* The changelog carries entity states plus four internal record kinds. */
typedef enum sr_cl_kind {
        SR_CL_ENTITY = 0,
        SR_CL_DEDUPE,
        SR_CL_MARKER,
        SR_CL_RETIRED,
        SR_CL_CHUNK, /* an open stage's applied chunk (changelog v2) */
        /* A stored definition's entity (changelog v3, docs/definitions.md
         * section 2): key sr_def_key(); its dedupe entries are SR_CL_DEDUPE
         * under sr_def_dedupe_key() with pipeline_run_id the pipeline id. */
        SR_CL_DEF,
        /* A device group's record, its member's, or a run's frozen copy
         * of a group (changelog v4, docs/definitions.md section 6): keys
         * sr_group_key() ...; a group command's dedupe entry is
         * SR_CL_DEDUPE under sr_group_dedupe_key(). */
        SR_CL_GROUP
} sr_cl_kind_t;

/* A processed input id (command or result) and the reply it produced. */
typedef struct sr_cl_dedupe {
        sr_uuid_t input_id;
        sr_uuid_t pipeline_run_id;
        bool has_reply;
        sr_reply_t reply; /* valid when has_reply */
} sr_cl_dedupe_t;

/* The end of a processed batch: the input offsets it consumed. */
typedef struct sr_cl_marker {
        char batch_id[64];
        int32_t partition;
        int64_t commands_offset;
        int64_t results_offset;
        int64_t written_at;
} sr_cl_marker_t;

/* A retired pipeline run (key <run>/r): sr_model.h's sr_retired_t. */
typedef sr_retired_t sr_cl_retired_t;

typedef struct sr_changelog {
        sr_cl_kind_t kind;
        union {
                sr_entity_t entity;
                sr_cl_dedupe_t dedupe;
                sr_cl_marker_t marker;
                sr_cl_retired_t retired;
                sr_stage_chunk_t chunk; /* owns its targets */
                sr_def_record_t def;    /* owns what its entity owns */
                sr_group_record_t grp;  /* owns nothing */
        } u;
} sr_changelog_t;

/** @brief Free what a decoded @p cl owns (an entity's heap parts, a
 *  chunk's targets); nothing for the other kinds. */
void sr_changelog_fini(sr_changelog_t *cl);

/**
 * @brief Encode @p cl as a framed io.sr.v1.ChangelogRecord in the oldest
 * version that carries it: version 1 (built-in id 4) for every kind but
 * an open stage's stage run and a chunk, which take version 2 (id 8), and
 * a definition's entity (SR_CL_DEF) or a dedupe entry whose reply has_def,
 * which take version 3 (id 12), and a device group's record
 * (SR_CL_GROUP), which takes version 4 (id 18). A
 * stage run is open when append_targets is set or any other open-stage
 * field (counts, seal, digest) is not zero (docs/schemas.md, "Our own
 * readers").
 * @param[out] out set on SR_OK only; caller owns it (sr_buf_free()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_INVALID or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_encode_changelog(sr_codec_t *codec, const sr_changelog_t *cl,
                                   sr_buf_t *out, sr_errctx_t *ec);
/** @brief sr_codec_encode_changelog() of the entity record of @p ent
 *  (borrowed), as saved under sr_entity_key(). Same ownership and
 *  returns. */
sr_err_t sr_codec_encode_entity(sr_codec_t *codec, const sr_entity_t *ent,
                                sr_buf_t *out, sr_errctx_t *ec);

/**
 * @brief Decode a framed io.sr.v1.ChangelogRecord of either version: a
 * version 1 stage run is closed (the open-stage fields zero, the
 * defaults); a version 1 body holds no chunk.
 * @param[out] out set on SR_OK only. For SR_CL_ENTITY the caller owns the
 *                 entity's heap parts (stage spec, op args) and releases
 *                 them with sr_entity_fini(&out->u.entity); for
 *                 SR_CL_CHUNK it owns the chunk's targets (a malloc'd
 *                 array, NULL when empty) and releases them with
 *                 sr_stage_chunk_fini(&out->u.chunk); for SR_CL_DEF what
 *                 the entity owns (an operation's args, an active run's
 *                 stage_ids, a target's strings), released with
 *                 sr_def_record_fini(&out->u.def). sr_changelog_fini()
 *                 releases any of them. The other kinds own nothing.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_decode_changelog(sr_codec_t *codec, sr_slice_t in,
                                   sr_changelog_t *out, sr_errctx_t *ec);

/* ------------------------------------------------------------ definitions */

/**
 * @brief Encode @p ev as a framed io.sr.v1.DefinitionChanged (definition
 * events, built-in id 14). A nil parent_id is written as null.
 * @param[out] out set on SR_OK only; caller owns it (sr_buf_free()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_INVALID (an entity kind or change
 *          out of range, a seq above 2^63-1) or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_encode_def_event(sr_codec_t *codec,
                                   const sr_def_event_t *ev, sr_buf_t *out,
                                   sr_errctx_t *ec);

/**
 * @brief Decode a framed io.sr.v1.DefinitionChanged. An unknown
 *        entity_type or change text, a negative seq or version is
 *        SR_ERR_SCHEMA; a null parent_id gives the nil uuid.
 * @param[out] out set on SR_OK only; owns nothing on the heap.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT or SR_ERR_SCHEMA.
 */
sr_err_t sr_codec_decode_def_event(sr_codec_t *codec, sr_slice_t in,
                                   sr_def_event_t *out, sr_errctx_t *ec);

#endif /* SR_CODEC_H */
