/* common/io/sr_lmdb.c - shared LMDB helpers (see sr_lmdb.h). */
#include "sr_lmdb.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

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

sr_err_t sr_lmdb_make_dir(const char *what, const char *dir, sr_errctx_t *ec)
{
        char path[PATH_MAX];
        size_t len = strlen(dir), i;

        if (len == 0 || len >= sizeof(path))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "%s: bad directory \"%s\"", what, dir);
        memcpy(path, dir, len + 1);
        for (i = 1; i <= len; i++) {
                if (path[i] != '/' && path[i] != '\0')
                        continue;
                path[i] = '\0';
                if (mkdir(path, 0750) != 0 && errno != EEXIST)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "%s %s: mkdir %s: %s", what, dir,
                                             path, strerror(errno));
                path[i] = dir[i];
        }
        return SR_OK;
}
