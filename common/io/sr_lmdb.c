/* common/io/sr_lmdb.c - shared LMDB helpers (see sr_lmdb.h). */
#include "sr_lmdb.h"

#include <errno.h>

static const uint8_t empty_bytes[1];

MDB_val sr_lmdb_val(const void *ptr, size_t len)
{
        MDB_val v;

        v.mv_data = (void *)(ptr ? ptr : empty_bytes);
        v.mv_size = len;
        return v;
}

sr_err_t sr_lmdb_err(sr_errctx_t *ec, int rc, const char *what,
                     const char *dir, const char *op)
{
        sr_err_t code;

        switch (rc) {
        case MDB_NOTFOUND:
                code = SR_ERR_NOT_FOUND;
                break;
        case MDB_MAP_FULL:
                code = SR_ERR_MAP_FULL;
                break;
        case MDB_CORRUPTED:
        case MDB_INVALID:
                code = SR_ERR_CORRUPT;
                break;
        case MDB_READERS_FULL:
                code = SR_ERR_RETRY;
                break;
        case ENOMEM:
                code = SR_ERR_NOMEM;
                break;
        default:
                code = SR_ERR_IO;
                break;
        }
        return sr_errctx_set(ec, code, "%s %s: %s: %s", what,
                             dir ? dir : "-", op, mdb_strerror(rc));
}
