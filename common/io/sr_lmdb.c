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

sr_err_t sr_lmdb_use(MDB_env *env, const char *what, const char *dir,
                     sr_mapuse_t *out, sr_errctx_t *ec)
{
        uint64_t pages, free_pages = 0;
        MDB_envinfo info;
        MDB_cursor *cur = NULL;
        MDB_txn *txn = NULL;
        MDB_stat st;
        MDB_val k, v;
        int rc;

        rc = mdb_env_info(env, &info);
        if (!rc)
                rc = mdb_env_stat(env, &st);
        if (!rc)
                rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
        /* The free list is database 0: each value an ID list whose first
         * word is its length. */
        if (!rc)
                rc = mdb_cursor_open(txn, 0, &cur);
        while (!rc && !(rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)))
                if (v.mv_size >= sizeof(size_t)) {
                        size_t n;

                        memcpy(&n, v.mv_data, sizeof(n));
                        free_pages += n;
                }
        if (cur)
                mdb_cursor_close(cur);
        if (txn)
                mdb_txn_abort(txn);
        if (rc && rc != MDB_NOTFOUND)
                return sr_lmdb_err(ec, rc, what, dir, "map use");
        pages = (uint64_t)info.me_last_pgno + 1;
        if (free_pages > pages)
                free_pages = pages;
        out->map_bytes = info.me_mapsize;
        out->high_bytes = pages * st.ms_psize;
        out->used_bytes = (pages - free_pages) * st.ms_psize;
        return SR_OK;
}
