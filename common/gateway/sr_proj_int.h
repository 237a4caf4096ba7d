/* common/gateway/sr_proj_int.h - what the files of the projection module
 * share (sr_proj_codec.c: stored entities; sr_proj_index.c: index keys
 * and counters; sr_proj_apply.c: the changelog batch; sr_proj.c: open
 * and single reads; sr_proj_query.c: scans and lists; sr_proj_chunks.c:
 * an open stage's chunks). Included by those files only. The on-disk
 * layout, which they all follow:
 *
 * Eight named databases (all integers big-endian, so byte order is numeric
 * order; signed values have their sign bit flipped first):
 *
 *   ent    id (16)               -> stored entity (format below)
 *   clkey  changelog key         -> id (16): what a tombstone removes
 *   idx    tag | prefix | sort   -> summary (see the table): list indexes
 *   cnt    tag | prefix          -> u64 number of idx keys with it
 *   meta   "format"              -> PROJ_FORMAT (u32)
 *          'o' | partition (u32) -> next changelog offset to apply (i64)
 *          'e' | partition (u32) -> next sr.events offset to apply (i64)
 *   evt    pipeline_run_id (16) | seq (u64)
 *                                -> enterprise (u8 length + bytes) |
 *                                   the event as JSON (sr_jw_event()):
 *                                   a run's events, for its watchers
 *                                   (sr_proj_events.c), until it retires
 *   ret    pipeline_run_id (16)  -> retired_at (i64) | forget_at (i64) |
 *                                   pipeline_id (16) | enterprise (u8
 *                                   length + bytes):
 *                                   the note a retired run leaves (its
 *                                   RetiredRun marker, key <run>/r) until
 *                                   the marker's own tombstone
 *   chk    changelog key of a chunk ("<run>/k/SSSS/CCCCCC")
 *                                -> pipeline_run_id (16) | stage u32 |
 *                                   chunk u32 | n u32 | n device ids (16
 *                                   each): an open stage's applied chunk,
 *                                   what its tombstone (or its run's
 *                                   retirement) removes from the 'D'
 *                                   index (sr_proj_chunks.c)
 *   def    stored definitions (docs/definitions.md; sr_proj_defs.c):
 *          changelog key "P<pipeline>/<letter>/<id>"
 *                                -> the sr_def_record_t (below)
 *          'I' | id (16)         -> pipeline_id (16) | letter: a stage or
 *                                   an operation list by id alone (the
 *                                   paths /stages/{id}/..., and
 *                                   /operationlists/{id}/...)
 *          'E' | E | pipeline_id -> (empty): the pipelines of a tenant,
 *                                   deleted ones included
 *          'L' | list_id | target_id -> (empty): the targets of a list, in
 *                                   target id order (keyset pages)
 *          A stored record is enterprise (u8 length + bytes) | the
 *          record's union member as the build lays it out (its pointers
 *          zeroed) | the strings or arrays it owns, each u32 length
 *          (0xffffffff: NULL) + bytes. The layout is the build's (the
 *          projection is a cache of one gateway): PROJ_DEF_LAYOUT, a
 *          weighted sum of the structs' sizes, is stored with the format
 *          (PROJ_FORMAT_STORED), so a build whose structs differ in size
 *          rebuilds the projection at open; a change that keeps every
 *          size (fields swapped) must bump PROJ_FORMAT.
 *
 * Index keys (E = enterprise as u8 length + bytes, N = pipeline name the
 * same way, rank = alphabetical status rank, u8; "|" separates fields;
 * the counted prefix ends where the sort part starts, marked by "||"):
 *
 *   'E' E                   || created_at | id   pipeline runs of a tenant
 *   'S' E | rank            || created_at | id     ... by status
 *   'P' E | pipeline_id     || created_at | id     ... by pipeline
 *   'Q' E | pipeline_id | rank || created_at | id
 *   'N' E | N               || created_at | id     ... by pipeline_name
 *   'M' E | N | rank        || created_at | id
 *   'R' pipeline_run_id     || index | id        stage runs (value: rank)
 *   'O' stage_run_id        || index | id        operations
 *   'T' stage_run_id        || op_index | target_index | id   target runs
 *   'U' stage_run_id | rank || op_index | target_index | id
 *   'V' stage_run_id | op_id        || target_index | id
 *   'W' stage_run_id | op_id | rank || target_index | id
 *   'D' pipeline_run_id | stage u32 || device_id   an open stage's
 *                             appended targets (value: chunk u32 | item
 *                             u32 | target_id (16; nil: not given) |
 *                             device_name, device_alias as u16 length +
 *                             bytes); the device id is the entry's id
 *
 * The six pipeline-run entries carry a summary value (rank, run_number,
 * created/started/ended_at, pipeline name) so that filtering and sorting
 * in memory never decode an entity. The tenant is part of every pipeline
 * run key, so a list cannot reach another enterprise's runs; lists under a
 * parent check the parent's tenant first. Every idx put/delete moves the
 * cnt counter of its prefix, so a filtered count is one lookup.
 *
 * Stored entity: fmt u8 | type u8 | version u32 | id (16) | u16 length +
 * changelog key | body. Strings are u16 length + bytes; the body lists
 * every field of the sr_model.h struct in declaration order, except a
 * stage run's frozen spec, which is not projected, and its open-stage
 * state, which follows queued_at only for an open stage (append_targets;
 * since format 3): flags u8 (1 append_targets, 2 sealed) |
 * expected_targets i64 | chunks_applied u32 | targets_appended u32 |
 * seal_chunks u32 | seal_count u32 | seal_digest (32). A stage run
 * without it is a closed stage's, so every format-2 body reads. Decoding
 * is a bounds-checked copy (no codec, no allocation except an operation's
 * args), so readers need no per-thread state.
 */
#ifndef SR_PROJ_INT_H
#define SR_PROJ_INT_H

#include <lmdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sr_codec.h"
#include "sr_proj.h"

#define PROJ_FORMAT 5 /* 2: the evt database and the events offsets;
                       * 3: an open stage run's tail (below);
                       * 4: the chk database and the 'D' index. Formats 2
                       * and 3 applied chunk records as no-ops and moved
                       * their offsets past them, so they hold no chunks
                       * and are rebuilt (emptied at open), not upgraded;
                       * 5: the def database (stored definitions: a
                       * projection of format 4 never applied their
                       * records, so it is rebuilt) */
/* What the meta "format" holds: the format and the layout of the stored
 * definition records (sr_proj_defs.c). */
#define PROJ_DEF_LAYOUT                                                  \
        ((uint32_t)(sizeof(sr_def_record_t) * 31u +                      \
                    sizeof(sr_def_pipeline_t) * 29u +                    \
                    sizeof(sr_def_stage_t) * 23u +                       \
                    sizeof(sr_def_target_list_t) * 19u +                 \
                    sizeof(sr_def_attachment_t) * 17u +                  \
                    sizeof(sr_def_oplist_t) * 13u +                      \
                    sizeof(sr_def_operation_t) * 11u +                   \
                    sizeof(sr_def_group_link_t) * 7u +                   \
                    sizeof(sr_def_active_run_t) * 5u +                   \
                    sizeof(sr_def_target_t) * 3u))
#define PROJ_FORMAT_STORED ((uint32_t)PROJ_FORMAT ^ (PROJ_DEF_LAYOUT << 8))
#define ENC_FORMAT 1 /* first byte of every stored entity */
#define IK_MAX 400   /* index key bytes; LMDB's limit is 511 */
#define IV_MAX 300   /* index value bytes */
#define MAX_IENT 6   /* index entries of one entity */
#define ID_LEN 16
#define NOTE_FIXED 33 /* a retired run's note before its enterprise */

enum { DBI_ENT, DBI_CLKEY, DBI_IDX, DBI_CNT, DBI_META, DBI_RET, DBI_EVT,
       DBI_CHK, DBI_DEF, DBI__COUNT };

/* The first byte of an offset's key in meta: which topic. */
#define PROJ_OFF_CHANGELOG 'o'
#define PROJ_OFF_EVENTS 'e'

enum idx_tag {
        TAG_PR = 'E',
        TAG_PR_ST = 'S',
        TAG_PR_PIPE = 'P',
        TAG_PR_PIPE_ST = 'Q',
        TAG_PR_NAME = 'N',
        TAG_PR_NAME_ST = 'M',
        TAG_SR = 'R',
        TAG_OP = 'O',
        TAG_TR = 'T',
        TAG_TR_ST = 'U',
        TAG_TR_OP = 'V',
        TAG_TR_OP_ST = 'W',
        TAG_TGT = 'D',
};

/* The 'D' index: prefix 'D' | run | stage, then the device id. */
#define TGT_PLEN (1 + ID_LEN + 4)
/* Its value before the two strings: chunk | item | target_id. */
#define TGT_VFIXED (4 + 4 + ID_LEN)

/* Growable encode buffer (the writer's scratch). */
struct wbuf {
        uint8_t *p;
        size_t len, cap;
        bool oom;
};

/* Bounds-checked reader over a stored value. */
struct rbuf {
        const uint8_t *p;
        size_t len, pos;
        bool bad;
};

/* One index entry: key, counted prefix length, value. */
struct ient {
        uint16_t klen, plen, vlen;
        uint8_t key[IK_MAX];
        uint8_t val[IV_MAX];
};

struct ients {
        unsigned n;
        struct ient e[MAX_IENT];
};

struct sr_proj {
        MDB_env *env;
        MDB_dbi dbi[DBI__COUNT];
        char *dir;          /* owned copy */
        sr_codec_t *codec;  /* the writer's */
        struct wbuf enc;    /* the writer's */
        bool write_open;
        _Atomic uint64_t applied, skipped, decodes, key_steps;
};

struct sr_proj_txn {
        sr_proj_t *proj;
        MDB_txn *mtxn;
        bool failed; /* a write failed: commit refused */
        struct ients old, cur, other; /* scratch */
};

/* A stored entity, parsed header; body points into LMDB memory. */
struct stored {
        sr_entity_type_t type;
        uint32_t version;
        sr_uuid_t id;
        const uint8_t *clkey;
        size_t clkey_len;
        struct rbuf body;
};

/* One read call: its snapshot and the stats it adds at the end. */
struct rctx {
        sr_proj_t *proj;
        MDB_txn *txn;
        MDB_cursor *cur; /* on idx, opened on demand */
        uint64_t decodes, steps;
};

/* Pipeline-run summary, the value of its index entries:
 * rank u8 | run_number u32 | created, started, ended (i64 keys) |
 * name length u8 | name. */
#define PRSUM_FIXED 30

/* Signed to order-preserving unsigned and back. */
static inline uint64_t i64_key(int64_t v)
{
        return (uint64_t)v ^ UINT64_C(0x8000000000000000);
}

static inline int64_t i64_unkey(uint64_t v)
{
        return (int64_t)(v ^ UINT64_C(0x8000000000000000));
}

static inline size_t bounded_len(const char *s, size_t cap)
{
        return strnlen(s, cap - 1);
}

/* Refuse a NULL argument of the calling public function (ec in scope). */
#define CHECK_ARGS(cond)                                                 \
        do {                                                             \
                if (!(cond))                                             \
                        return sr_errctx_set(ec, SR_ERR_INVALID,         \
                                             "proj: %s: NULL argument",  \
                                             __func__);                  \
        } while (0)

/* Shared by the module's files (sr_proj__: module-internal). */

/* sr_proj_codec.c */
/* The id and version of @p e. */
void sr_proj__entity_id(const sr_entity_t *e, sr_uuid_t *id, uint32_t *ver);
/* Encode @p e, stored under changelog key @p clkey, into @p w (reset
 * first; w->oom set when it does not fit in memory). */
void sr_proj__enc_entity(struct wbuf *w, const sr_entity_t *e,
                         sr_slice_t clkey);
/* Parse a stored entity's header; false: it does not parse. */
bool sr_proj__parse_stored(const MDB_val *v, struct stored *s);
/* Decode a parsed entity. An operation's args are malloc'd only when
 * @p want_args; otherwise args_json is NULL.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT (ec not set: the caller
 *          names the entity). */
sr_err_t sr_proj__dec_entity(const struct stored *s, sr_entity_t *e,
                             bool want_args);

/* sr_proj_index.c */
/* Position of @p st in the alphabetical order of status names. */
uint8_t sr_proj__status_rank(sr_status_t st);
/* Append @p n bytes to the key of @p ie (sizes bounded by construction). */
void sr_proj__k_bytes(struct ient *ie, const void *p, size_t n);
void sr_proj__k_u8(struct ient *ie, uint8_t v);
/* u8 length + bytes of a C string field of @p cap bytes. */
void sr_proj__k_str8(struct ient *ie, const char *s, size_t cap);
/* Every index entry of @p e. */
void sr_proj__ients_of(const sr_entity_t *e, struct ients *out);
/* Move the index from @p old to @p cur, counters included; an LMDB code. */
int sr_proj__idx_move(const sr_proj_t *proj, MDB_txn *txn,
                      const struct ients *old, const struct ients *cur);
/* The big-endian u64 stored under @p key in @p dbi, @p absent if there is
 * none; an LMDB code (MDB_CORRUPTED: not 8 bytes). */
int sr_proj__u64_get(MDB_txn *txn, MDB_dbi dbi, const void *key,
                     size_t len, uint64_t absent, uint64_t *out);

/* Move the counter of index prefix @p key by @p delta (+1 or -1; a
 * counter reaching 0 is deleted); an LMDB code. */
int sr_proj__cnt_add(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key,
                     size_t len, int delta);

/* The counter of index prefix @p key (0 if none); an LMDB code. */
static inline int sr_proj__cnt_get(MDB_txn *txn, MDB_dbi dbi,
                                   const uint8_t *key, size_t len,
                                   uint64_t *out)
{
        return sr_proj__u64_get(txn, dbi, key, len, 0, out);
}

/* sr_proj_apply.c */
/* The partition's next offset to apply (-1: none yet); an LMDB code. */
int sr_proj__offset_get(const sr_proj_t *proj, MDB_txn *txn,
                        int32_t partition, int64_t *next);

/* The next offset to apply of @p topic (PROJ_OFF_*) and @p partition (-1:
 * none yet); an LMDB code. */
int sr_proj__topic_offset_get(const sr_proj_t *proj, MDB_txn *txn,
                              char topic, int32_t partition, int64_t *next);
/* Common checks of an apply or skip of @p topic. @returns SR_OK with
 * *stale set when @p offset was applied already. */
sr_err_t sr_proj__apply_check(sr_proj_txn_t *txn, char topic,
                              int32_t partition, int64_t offset, bool *stale,
                              sr_errctx_t *ec);
/* Store the next offset of @p topic and @p partition. */
sr_err_t sr_proj__offset_put(sr_proj_txn_t *txn, char topic,
                             int32_t partition, int64_t next,
                             sr_errctx_t *ec);

/* sr_proj_chunks.c */
/* Is @p key a chunk's changelog key, "<run>/k/SSSS/CCCCCC"? */
bool sr_proj__is_chunk_key(sr_slice_t key);
/* Apply an open stage's chunk stored under @p key: its targets enter the
 * 'D' index (a chunk applied again first removes what it put). */
sr_err_t sr_proj__apply_chunk(sr_proj_txn_t *txn, sr_slice_t key,
                              const sr_stage_chunk_t *c, sr_errctx_t *ec);
/* Remove the chunk stored under @p key and its targets; an LMDB code
 * (0 also when there is none). */
int sr_proj__chunk_forget(const sr_proj_t *proj, MDB_txn *txn,
                          sr_slice_t key);
/* Remove every chunk of the run whose keys start with @p prefix
 * ("<run>/"); an LMDB code. */
int sr_proj__chunks_forget_run(const sr_proj_t *proj, MDB_txn *txn,
                               const char *prefix, size_t plen);

/* sr_proj_defs.c */
/* Apply a definition record (@p r) or a tombstone (@p r NULL) under
 * definition key @p key ("P..."). */
sr_err_t sr_proj__apply_def(sr_proj_txn_t *txn, sr_slice_t key,
                            const sr_def_record_t *r, sr_errctx_t *ec);
/* Is @p key a definition key (first byte 'P')? */
static inline bool sr_proj__is_def_key(sr_slice_t key)
{
        return key.len > 0 && ((const char *)key.ptr)[0] == 'P';
}

/* sr_proj_groups.c: the device-group directory's records (docs/
 * definitions.md section 6): a G<group>/... key's record, or its tombstone
 * (@p r NULL). */
static inline bool sr_proj__is_group_key(sr_slice_t key)
{
        return key.len > 0 && ((const char *)key.ptr)[0] == 'G';
}
struct sr_group_record;
sr_err_t sr_proj__apply_group(sr_proj_txn_t *txn, sr_slice_t key,
                              const struct sr_group_record *r,
                              sr_errctx_t *ec);

/* sr_proj_events.c */
/* Remove every stored event of @p run; an LMDB code. */
int sr_proj__events_forget(const sr_proj_t *proj, MDB_txn *txn,
                           const sr_uuid_t *run);

/* sr_proj.c */
/* Open one read call's snapshot (its own LMDB read txn). */
sr_err_t sr_proj__rd_begin(sr_proj_t *proj, struct rctx *rc,
                           sr_errctx_t *ec);
/* End the snapshot and add the call's stats. */
void sr_proj__rd_end(struct rctx *rc);
/* SR_ERR_NOT_FOUND, "proj: <what> <id>: not found". */
sr_err_t sr_proj__not_found(sr_errctx_t *ec, const char *what,
                            const sr_uuid_t *id);
/* Load and decode entity @p id of @p type into @p e.
 * @returns SR_OK, SR_ERR_NOT_FOUND (absent or another type),
 *          SR_ERR_CORRUPT, SR_ERR_NOMEM, SR_ERR_IO. */
sr_err_t sr_proj__rd_entity(struct rctx *rc, sr_entity_type_t type,
                            const sr_uuid_t *id, sr_entity_t *e,
                            bool want_args, sr_errctx_t *ec);
/* Entity @p id of @p type, a pipeline run or a stage run, if
 * @p enterprise's (NOT_FOUND otherwise). */
sr_err_t sr_proj__rd_owned(struct rctx *rc, const char *enterprise,
                           sr_entity_type_t type, const sr_uuid_t *id,
                           sr_entity_t *e, sr_errctx_t *ec);

#endif /* SR_PROJ_INT_H */
