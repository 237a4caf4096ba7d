/* common/io/sr_lmdb.h - what the two LMDB users (sr_store, sr_proj) share:
 * big-endian key parts (byte order = sort order), MDB_val from borrowed
 * bytes, the one mapping of LMDB codes to ours, and the environment's
 * directory. */
#ifndef SR_LMDB_H
#define SR_LMDB_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_mapuse.h"

static inline void sr_lmdb_put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static inline uint32_t sr_lmdb_get_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void sr_lmdb_put_be64(uint8_t *p, uint64_t v)
{
        sr_lmdb_put_be32(p, (uint32_t)(v >> 32));
        sr_lmdb_put_be32(p + 4, (uint32_t)v);
}

static inline uint64_t sr_lmdb_get_be64(const uint8_t *p)
{
        return (uint64_t)sr_lmdb_get_be32(p) << 32 | sr_lmdb_get_be32(p + 4);
}

/**
 * @brief An MDB_val over borrowed bytes (NULL: an empty value). LMDB takes
 * non-const pointers but never writes through keys or put values.
 */
MDB_val sr_lmdb_val(const void *ptr, size_t len);

/**
 * @brief The one place LMDB codes become ours; the text keeps LMDB's:
 * "<what> <dir>: <op>: <mdb_strerror>". MDB_NOTFOUND -> NOT_FOUND,
 * MDB_MAP_FULL -> MAP_FULL, MDB_CORRUPTED/MDB_INVALID -> CORRUPT,
 * MDB_READERS_FULL -> RETRY, ENOMEM -> NOMEM, anything else -> IO.
 * @returns the mapped code.
 */
sr_err_t sr_lmdb_err(sr_errctx_t *ec, int rc, const char *what,
                     const char *dir, const char *op);

/**
 * @brief mkdir -p @p dir (mode 0750); an existing directory is fine.
 * @param what "store", "proj": for messages.
 * @returns SR_OK, SR_ERR_INVALID (empty or too long), SR_ERR_IO.
 */
sr_err_t sr_lmdb_make_dir(const char *what, const char *dir, sr_errctx_t *ec);

/**
 * @brief How full @p env's map is (sr_mapuse.h): its size, the pages ever
 * written and those in use (less LMDB's free list, read in a read txn of
 * its own: call it with no txn of this thread open unless the env has
 * MDB_NOTLS).
 * @param[out] out set on SR_OK only.
 * @returns SR_OK or a mapped LMDB error (ec names @p what and @p dir).
 */
sr_err_t sr_lmdb_use(MDB_env *env, const char *what, const char *dir,
                     sr_mapuse_t *out, sr_errctx_t *ec);

#endif /* SR_LMDB_H */
