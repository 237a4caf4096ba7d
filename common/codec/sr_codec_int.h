/* common/codec/sr_codec_int.h - internals shared by the sr_codec*.c files only.
 *
 * Field helpers read or write one named field of an avro-c record value and
 * report "field <name>: <cause>"; callers prefix the path while unwinding.
 * Decode helpers return SR_ERR_SCHEMA for values the C model cannot hold;
 * encode helpers return SR_ERR_INVALID for C values the schema cannot carry.
 */
#ifndef SR_CODEC_INT_H
#define SR_CODEC_INT_H

#include <avro.h>

#include "sr_codec.h"

#define SR_CODEC_HEADER 5 /* magic byte + 4-byte big-endian schema id */

/* More items than this in one array is an absurd input (SR_ERR_SCHEMA). */
#define SR_CODEC_MAX_ITEMS 100000

struct sr_codec {
        avro_schema_t schema[SR_SCHEMA__MAX];       /* [0] unused */
        avro_value_iface_t *iface[SR_SCHEMA__MAX];
        avro_value_t value[SR_SCHEMA__MAX];         /* reused per call */
        bool has_value[SR_SCHEMA__MAX];
        /* The older versions still read, as sr_schema_older[]. */
        avro_schema_t old_schema[SR_SCHEMA_OLDER_COUNT];
        avro_value_iface_t *old_iface[SR_SCHEMA_OLDER_COUNT];
        avro_value_t old_value[SR_SCHEMA_OLDER_COUNT];
        bool old_has_value[SR_SCHEMA_OLDER_COUNT];
        sr_schema_ids_t ids;  /* written and accepted (sr_codec_set_ids()) */
        avro_reader_t reader; /* memory reader, re-pointed per decode */
        avro_writer_t writer; /* memory writer, re-pointed per encode */
        char none[1];         /* initial source/dest of reader and writer */
};

/* Indexes of sr_schema_older[] (sr_codec.c) the writers use: a record
 * is written in the oldest version that carries it. */
enum {
        SR_OLDER_COMMAND_V1 = 0,
        SR_OLDER_CHANGELOG_V1 = 1,
        SR_OLDER_COMMAND_V2 = 2,
        SR_OLDER_COMMAND_V3 = 3,
        SR_OLDER_COMMAND_V4 = 4,
        SR_OLDER_CHANGELOG_V2 = 5,
        SR_OLDER_REPLY_V1 = 6,
        SR_OLDER_COMMAND_V5 = 7,
        SR_OLDER_COMMAND_V6 = 8,
        SR_OLDER_COMMAND_V7 = 9,
        SR_OLDER_CHANGELOG_V3 = 10,
};

/* ---------------------------------------------------------- framing */

/* Reset the codec's value for schema @p id; *vp borrowed until the next
 * call on @p codec. */
sr_err_t sr_codec__begin_encode(sr_codec_t *codec, sr_schema_id_t id,
                                avro_value_t **vp, sr_errctx_t *ec);

/* Frame and copy out the value of @p id; caller owns *out on SR_OK. */
sr_err_t sr_codec__finish_encode(sr_codec_t *codec, sr_schema_id_t id,
                                 sr_buf_t *out, sr_errctx_t *ec);

/* The same for sr_schema_older[@p older]: a record written in an older
 * version of its schema, under that version's wire id. */
sr_err_t sr_codec__begin_encode_older(sr_codec_t *codec, int older,
                                      avro_value_t **vp, sr_errctx_t *ec);
sr_err_t sr_codec__finish_encode_older(sr_codec_t *codec, int older,
                                       sr_buf_t *out, sr_errctx_t *ec);

/* Check the header, validate the body against the version of slot @p id
 * its wire id names (the newest or an older one) and read it into the
 * codec's value for that version; *vp borrowed until the next call. Read
 * fields a version may lack with sr_codec__field_opt(). */
sr_err_t sr_codec__begin_decode(sr_codec_t *codec, sr_slice_t in,
                                sr_schema_id_t id, avro_value_t **vp,
                                sr_errctx_t *ec);

/* Check that @p body (after the header) is exactly one valid value of
 * @p schema: lengths within the bytes left, union branches and enum
 * indexes in range, at most SR_CODEC_MAX_ITEMS per array, no trailing
 * bytes. @returns SR_OK, SR_ERR_CORRUPT or SR_ERR_SCHEMA. */
sr_err_t sr_codec__scan(avro_schema_t schema, const uint8_t *body,
                        size_t len, sr_errctx_t *ec);

/* Map a failed avro-c call while building or reading a value. */
sr_err_t sr_codec__avro_err(sr_errctx_t *ec, int rc, const char *field,
                            const char *op);

/* Printable, bounded copy of untrusted bytes for messages; returns dst. */
const char *sr_codec__quote(char dst[64], const char *s, size_t len);

/* ---------------------------------------------------------- decode */

sr_err_t sr_codec__field(avro_value_t *rec, const char *name,
                         avro_value_t *f, sr_errctx_t *ec);
/* A field an older version lacks: true and *f set when @p rec has it. */
bool sr_codec__field_opt(avro_value_t *rec, const char *name,
                         avro_value_t *f);
/* Union field: *disc is the branch index, *branch the branch value. */
sr_err_t sr_codec__get_branch(avro_value_t *rec, const char *name,
                              int *disc, avro_value_t *branch,
                              sr_errctx_t *ec);
/* Array field: *n items, at most @p max (else SR_ERR_SCHEMA). */
sr_err_t sr_codec__get_array(avro_value_t *rec, const char *name,
                             size_t max, avro_value_t *arr, size_t *n,
                             sr_errctx_t *ec);
/* String into dst[cap] (NUL included); too long or NUL inside: SCHEMA. */
sr_err_t sr_codec__get_str(avro_value_t *rec, const char *name, char *dst,
                           size_t cap, sr_errctx_t *ec);
/* ["null","string"] into dst[cap]; null gives "". */
sr_err_t sr_codec__get_opt_str(avro_value_t *rec, const char *name,
                               char *dst, size_t cap, sr_errctx_t *ec);
/* String (or ["null","string"] when @p nullable; null gives NULL) into a
 * malloc'd copy; caller owns *dst on SR_OK. */
sr_err_t sr_codec__get_str_dup(avro_value_t *rec, const char *name,
                               bool nullable, char **dst, sr_errctx_t *ec);
sr_err_t sr_codec__get_uuid(avro_value_t *rec, const char *name,
                            sr_uuid_t *dst, sr_errctx_t *ec);
/* ["null", uuid]; null gives the nil uuid. */
sr_err_t sr_codec__get_opt_uuid(avro_value_t *rec, const char *name,
                                sr_uuid_t *dst, sr_errctx_t *ec);
sr_err_t sr_codec__get_long(avro_value_t *rec, const char *name,
                            int64_t *dst, sr_errctx_t *ec);
sr_err_t sr_codec__get_int(avro_value_t *rec, const char *name,
                           int32_t *dst, sr_errctx_t *ec);
/* int or long field holding 0 .. UINT32_MAX; negative: SCHEMA. */
sr_err_t sr_codec__get_u32(avro_value_t *rec, const char *name,
                           uint32_t *dst, sr_errctx_t *ec);
sr_err_t sr_codec__get_bool(avro_value_t *rec, const char *name, bool *dst,
                            sr_errctx_t *ec);
/* Enum index below @p n. */
sr_err_t sr_codec__get_enum(avro_value_t *rec, const char *name, int n,
                            int *dst, sr_errctx_t *ec);
/* Status text, any case; "none" only when @p allow_none. */
sr_err_t sr_codec__get_status(avro_value_t *rec, const char *name,
                              bool allow_none, sr_status_t *dst,
                              sr_errctx_t *ec);
/* ["null","string"] status; null gives SR_ST_NONE. */
sr_err_t sr_codec__get_opt_status(avro_value_t *rec, const char *name,
                                  sr_status_t *dst, sr_errctx_t *ec);

/* ---------------------------------------------------------- encode */

sr_err_t sr_codec__set_branch(avro_value_t *rec, const char *name, int disc,
                              avro_value_t *branch, sr_errctx_t *ec);
/* @p src must be NUL-terminated within @p cap bytes (cap 0: unbounded). */
sr_err_t sr_codec__set_str(avro_value_t *rec, const char *name,
                           const char *src, size_t cap, sr_errctx_t *ec);
/* ["null","string"]: NULL gives null. */
sr_err_t sr_codec__set_opt_str(avro_value_t *rec, const char *name,
                               const char *src, size_t cap, sr_errctx_t *ec);
sr_err_t sr_codec__set_uuid(avro_value_t *rec, const char *name,
                            const sr_uuid_t *u, sr_errctx_t *ec);
/* ["null", uuid]: the nil uuid gives null. */
sr_err_t sr_codec__set_opt_uuid(avro_value_t *rec, const char *name,
                                const sr_uuid_t *u, sr_errctx_t *ec);
sr_err_t sr_codec__set_long(avro_value_t *rec, const char *name, int64_t v,
                            sr_errctx_t *ec);
sr_err_t sr_codec__set_int(avro_value_t *rec, const char *name, int32_t v,
                           sr_errctx_t *ec);
/* int or long field; an int field refuses values above INT32_MAX. */
sr_err_t sr_codec__set_u32(avro_value_t *rec, const char *name, uint32_t v,
                           sr_errctx_t *ec);
sr_err_t sr_codec__set_bool(avro_value_t *rec, const char *name, bool v,
                            sr_errctx_t *ec);
/* Enum index below @p n, else SR_ERR_INVALID. */
sr_err_t sr_codec__set_enum(avro_value_t *rec, const char *name, int v,
                            int n, sr_errctx_t *ec);
sr_err_t sr_codec__set_status(avro_value_t *rec, const char *name,
                              sr_status_t st, bool allow_none,
                              sr_errctx_t *ec);
/* ["null","string"] status; SR_ST_NONE gives null. */
sr_err_t sr_codec__set_opt_status(avro_value_t *rec, const char *name,
                                  sr_status_t st, sr_errctx_t *ec);
/* A uuid string value that is no record's field (an array item). */
sr_err_t sr_codec__val_uuid(avro_value_t *f, const char *name, sr_uuid_t *dst,
                            sr_errctx_t *ec);
sr_err_t sr_codec__val_set_uuid(avro_value_t *f, const char *name,
                                const sr_uuid_t *u, sr_errctx_t *ec);
/* Append one item to the array @p arr; *item borrowed. */
sr_err_t sr_codec__append(avro_value_t *arr, const char *name,
                          avro_value_t *item, sr_errctx_t *ec);

/* ---------------------------------------------------------- shared parts */

/* io.sr.v1.CommandReply record <-> sr_reply_t (reply.avsc, changelog). */
sr_err_t sr_codec__reply_to(avro_value_t *rec, const sr_reply_t *reply,
                            sr_errctx_t *ec);
sr_err_t sr_codec__reply_from(avro_value_t *rec, sr_reply_t *reply,
                              sr_errctx_t *ec);

/* Stored definitions (sr_codec_defs.c, since Command version 5,
 * ChangelogRecord version 3, CommandReply version 2). */
/* The payload branch of definition command @p c (SR_CMD_DEFINITION) into
 * @p p, a branch of Command version 5's union: its record's fields. */
sr_err_t sr_codec__defcmd_to(avro_value_t *p, const sr_command_t *c,
                             sr_errctx_t *ec);
/* Read branch @p kind (an sr_defcmd_kind_t) @p p into c->u.def, which the
 * caller allocated zeroed with its kind set and the envelope's fields
 * copied; on failure the caller frees it (sr_command_fini()). */
sr_err_t sr_codec__defcmd_from(avro_value_t *p, const sr_command_t *c,
                               sr_defcmd_t *def, sr_errctx_t *ec);
/* A Def* branch of ChangelogRecord version 3 <-> sr_def_record_t (kind
 * set by the caller on decode; on failure the caller frees what @p r
 * owns with sr_def_record_fini()). */
sr_err_t sr_codec__def_record_to(avro_value_t *b, const sr_def_record_t *r,
                                 sr_errctx_t *ec);
sr_err_t sr_codec__def_record_from(avro_value_t *b, sr_def_record_t *r,
                                   sr_errctx_t *ec);
/* DefinitionReply record <-> sr_reply_def_t. */
sr_err_t sr_codec__reply_def_to(avro_value_t *rec, const sr_reply_def_t *d,
                                sr_errctx_t *ec);
sr_err_t sr_codec__reply_def_from(avro_value_t *rec, sr_reply_def_t *d,
                                  sr_errctx_t *ec);

/* SpecOperation / SpecTarget arrays (command spec, changelog stage run).
 * @p nullable_args: args_json is ["null","string"] (changelog), else a
 * string where NULL is written as "{}". The _from functions allocate
 * *ops / *targets (NULL when empty); caller owns them on SR_OK. */
sr_err_t sr_codec__ops_to(avro_value_t *arr, const sr_spec_op_t *ops,
                          uint32_t n, bool nullable_args, sr_errctx_t *ec);
sr_err_t sr_codec__ops_from(avro_value_t *arr, size_t n, bool nullable_args,
                            sr_spec_op_t **ops, sr_errctx_t *ec);
sr_err_t sr_codec__targets_to(avro_value_t *arr,
                              const sr_spec_target_t *targets, uint32_t n,
                              sr_errctx_t *ec);
sr_err_t sr_codec__targets_from(avro_value_t *arr, size_t n,
                                sr_spec_target_t **targets,
                                sr_errctx_t *ec);

/* ---------------------------------------------------------- avro-c paths */

/* The avro-c implementations of sr_codec_encode_event() and
 * sr_codec_encode_changelog(), whose hand-written fast paths
 * (sr_codec_fast.c) must give the same bytes and errors; kept for the
 * differential tests (tests/unit/test_sr_codec_fast.c) and the benchmark
 * (tests/bench/bench_codec.c). Same contract as the public functions. */
sr_err_t sr_codec__encode_event_avro(sr_codec_t *codec, const sr_event_t *ev,
                                     sr_buf_t *out, sr_errctx_t *ec);
sr_err_t sr_codec__encode_changelog_avro(sr_codec_t *codec,
                                         const sr_changelog_t *cl,
                                         sr_buf_t *out, sr_errctx_t *ec);
/* The avro-c implementation of sr_codec_decode_result(). */
sr_err_t sr_codec__decode_result_avro(sr_codec_t *codec, sr_slice_t in,
                                      sr_result_t *out, sr_errctx_t *ec);
/* The hand-written reader sr_codec_decode_result() tries first: true (and
 * *out set) only for an input the avro-c path accepts, with the result it
 * gives; false for anything else, including inputs the avro-c path would
 * accept (non-canonical varints, say), which it then judges. */
bool sr_codec__decode_result_fast(sr_slice_t in, int32_t wire_id,
                                  sr_result_t *out);
/* The same for a changelog record of a target run framed with one of the
 * @p n_ids wire ids @p ids (the versions whose TargetRun branch is the
 * same): sr_codec_decode_changelog() tries it first. */
bool sr_codec__decode_target_run_fast(sr_slice_t in, const int32_t *ids,
                                      int n_ids, sr_target_run_t *out);
/* sr_codec_decode_changelog() without the fast reader (tests compare). */
sr_err_t sr_codec__decode_changelog_avro(sr_codec_t *codec, sr_slice_t in,
                                         sr_changelog_t *out,
                                         sr_errctx_t *ec);

/* ---------------------------------------------------------- changelog
 * Union branches of ChangelogRecord.state: the four entity types in
 * sr_entity_type_t order, then the internal kinds (StageChunk since
 * version 2), then the definition entities in sr_def_kind_t order (since
 * version 3: SR_CL_BR_DEF + kind), then the device-group records in
 * sr_group_rec_kind_t order (since version 4: SR_CL_BR_GROUP + kind).
 * Shared by the avro-c path
 * (sr_codec_changelog.c) and the hand-written one (sr_codec_fast.c). */
enum {
        SR_CL_BR_DEDUPE = SR_ENT__COUNT,
        SR_CL_BR_MARKER,
        SR_CL_BR_RETIRED,
        SR_CL_BR_CHUNK,
        SR_CL_BR_DEF,
        SR_CL_BR_GROUP = SR_CL_BR_DEF + SR_DEF__COUNT,
        SR_CL_BR__COUNT = SR_CL_BR_GROUP + SR_GREC__COUNT
};

/** Avro name of a branch, for error messages. */
extern const char *const sr_codec__cl_branch_names[SR_CL_BR__COUNT];

/** The union branch of @p cl, or -1 when its kind or type is unknown. */
int sr_codec__cl_branch(const sr_changelog_t *cl);

/** Whether version 1 carries @p cl (both encode paths write it so): every
 * kind but a chunk and an open stage's stage run (any open-stage field
 * not zero). An unknown kind "fits": version 1's writer refuses it. */
bool sr_codec__cl_fits_v1(const sr_changelog_t *cl);

/** Whether only version 3 carries @p cl: a definition's entity, or a
 * dedupe entry whose reply has a definition part (the hand-written path
 * hands these to the avro-c one). */
bool sr_codec__cl_needs_v3(const sr_changelog_t *cl);

/** Whether only version 4 carries @p cl: a device group's record
 * (SR_CL_GROUP; the avro-c path writes them). */
bool sr_codec__cl_needs_v4(const sr_changelog_t *cl);

/* sr_codec_defs.c's field helpers, shared with sr_codec_defs_records.c
 * and sr_codec_groups.c: ["null", long], a long holding 0 .. INT64_MAX, a
 * FillStep's seal_state (32 or 64 bytes), a target list's type (its
 * name; ["null", string] when @p opt, null when !@p has). */
sr_err_t sr_codec__set_opt_long(avro_value_t *rec, const char *name,
                                bool has, int64_t v, sr_errctx_t *ec);
sr_err_t sr_codec__get_opt_long(avro_value_t *rec, const char *name,
                                bool *has, int64_t *v, sr_errctx_t *ec);
sr_err_t sr_codec__set_u64(avro_value_t *rec, const char *name, uint64_t v,
                           sr_errctx_t *ec);
sr_err_t sr_codec__get_u64(avro_value_t *rec, const char *name, uint64_t *v,
                           sr_errctx_t *ec);
sr_err_t sr_codec__set_seal_state(avro_value_t *rec, const char *name,
                                  const uint8_t *src, uint32_t len,
                                  sr_errctx_t *ec);
sr_err_t sr_codec__get_seal_state(avro_value_t *rec, const char *name,
                                  uint8_t *dst, size_t cap, uint32_t *len,
                                  sr_errctx_t *ec);
sr_err_t sr_codec__set_tl_type(avro_value_t *rec, const char *name, bool opt,
                               bool has, sr_tl_type_t t, sr_errctx_t *ec);
sr_err_t sr_codec__parse_tl_type(const char *name, const char *text,
                                 sr_tl_type_t *out, sr_errctx_t *ec);

/* A record's version, created_at and updated_at (sr_codec_defs.c). */
sr_err_t sr_codec__audit_to(avro_value_t *b, const sr_def_audit_t *a,
                            sr_errctx_t *ec);
sr_err_t sr_codec__audit_from(avro_value_t *b, sr_def_audit_t *a,
                              sr_errctx_t *ec);

/* Device-group payloads and records (sr_codec_groups.c). */
sr_err_t sr_codec__grpcmd_to(avro_value_t *p, const sr_command_t *c,
                             sr_errctx_t *ec);
sr_err_t sr_codec__grpcmd_from(avro_value_t *p, const sr_command_t *c,
                               sr_grpcmd_t *g, sr_errctx_t *ec);
sr_err_t sr_codec__group_record_to(avro_value_t *b,
                                   const sr_group_record_t *r,
                                   sr_errctx_t *ec);
sr_err_t sr_codec__group_record_from(avro_value_t *b, sr_group_record_t *r,
                                     sr_errctx_t *ec);

/** Whether a version 2 stage run's seal_digest is written as a Sha256
 * (else null): when sealed, or when the digest is not all zero, so that
 * decoding gives back the bytes encoded. */
bool sr_codec__seal_digest_set(const sr_stage_run_t *st);

/** A string field's checks (both encode paths): NULL, and NUL-termination
 * within @p cap (0: no bound). Its length in *lenp. */
sr_err_t sr_codec__str_check(const char *name, const char *src, size_t cap,
                             size_t *lenp, sr_errctx_t *ec);

#endif /* SR_CODEC_INT_H */
