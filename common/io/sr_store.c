/* common/io/sr_store.c - LMDB snapshot of a worker's partitions.
 *
 * Four named databases. Every key starts with the partition as 4 bytes
 * big-endian, so a partition's keys are contiguous and, within one, sorted
 * by the bytes that follow:
 *   ent     part | key         -> value
 *   meta    part               -> pmeta, 4 x 8 bytes big-endian
 *   outbox  part | seq (8 BE)  -> phase (1 byte) | record
 *   sys     "version"          -> STORE_FORMAT (4 BE)
 *           "o" | part         -> next seq (8 BE) | outbox count (8 BE)
 *
 * The boot mark lives outside LMDB, in MARK_FILE next to data.mdb: it
 * must survive exactly the machine crash that may tear data.mdb, so it is
 * made durable (fsync) before the first unsynced write of a session and
 * removed only once everything is synced.
 */
#include "sr_store.h"
#include "sr_lmdb.h"
#include "sr_store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_FORMAT 1
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define MARK_FILE "unsynced_boot_id"
#define UNKNOWN_BOOT "unknown"

static const char *const dbi_names[DBI__COUNT] = {
        [DBI_ENT] = "ent",
        [DBI_META] = "meta",
        [DBI_OUTBOX] = "outbox",
        [DBI_SYS] = "sys",
};

/* ------------------------------------------------------------ helpers */

/* A failed LMDB write leaves the txn in an error state: remember it so
 * commit refuses instead of reporting LMDB's vaguer MDB_BAD_TXN. */
sr_err_t sr_store__txn_fail(sr_txn_t *txn, sr_errctx_t *ec, int rc,
                         const char *op)
{
        txn->failed = true;
        return sr_lmdb_err(ec, rc, "store", txn->store->dir, op);
}

sr_err_t sr_store__check_write(const sr_txn_t *txn, int32_t partition,
                            const char *op, sr_errctx_t *ec)
{
        if (!txn->write)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: %s: read-only txn",
                                     txn->store->dir, op);
        if (partition < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: %s: partition %d",
                                     txn->store->dir, op, (int)partition);
        return SR_OK;
}

sr_err_t sr_store__check_read(const sr_txn_t *txn, int32_t partition,
                           const char *op, sr_errctx_t *ec)
{
        if (partition < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: %s: partition %d",
                                     txn->store->dir, op, (int)partition);
        return SR_OK;
}

/* Build "part | bytes" in @p buf (4 + SR_STORE_KEY_MAX bytes). */
static sr_err_t make_key(const sr_txn_t *txn, uint8_t *buf, int32_t partition,
                         sr_slice_t key, MDB_val *out, const char *op,
                         sr_errctx_t *ec)
{
        if (key.len > SR_STORE_KEY_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: %s: key of %zu bytes "
                                     "(max %d)",
                                     txn->store->dir, op, key.len,
                                     SR_STORE_KEY_MAX);
        sr_lmdb_put_be32(buf, (uint32_t)partition);
        if (key.len)
                memcpy(buf + 4, key.ptr, key.len);
        *out = sr_lmdb_val(buf, 4 + key.len);
        return SR_OK;
}

static size_t page_round(size_t size)
{
        long ps = sysconf(_SC_PAGESIZE);
        size_t page = ps > 0 ? (size_t)ps : 4096;

        if (size > SIZE_MAX - page)
                return size - size % page;
        return (size + page - 1) / page * page;
}

/* "<dir>/<name>" into @p out (PATH_MAX). */
static sr_err_t dir_path(const sr_store_t *store, const char *name,
                         char *out, sr_errctx_t *ec)
{
        int n = snprintf(out, PATH_MAX, "%s/%s", store->dir, name);

        if (n < 0 || n >= PATH_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: path too long", store->dir);
        return SR_OK;
}

static bool read_boot_id(char out[BOOT_ID_MAX])
{
        FILE *f = fopen(BOOT_ID_PATH, "r");
        size_t len;

        if (!f)
                return false;
        if (!fgets(out, BOOT_ID_MAX, f)) {
                fclose(f);
                return false;
        }
        fclose(f);
        len = strcspn(out, "\n");
        out[len] = '\0';
        return len > 0;
}

static enum boot_mark classify_mark(const sr_store_t *store, const char *id)
{
        if (store->boot_known && !strcmp(id, store->boot_id))
                return MARK_CURRENT;
        return MARK_OTHER;
}

static sr_err_t sync_dir(const sr_store_t *store, sr_errctx_t *ec)
{
        int fd = open(store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) != 0) {
                sr_errctx_set(ec, SR_ERR_IO, "store %s: fsync dir: %s",
                              store->dir, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return SR_ERR_IO;
        }
        close(fd);
        return SR_OK;
}

static sr_err_t mark_read(const sr_store_t *store, enum boot_mark *mark,
                          sr_errctx_t *ec)
{
        char path[PATH_MAX], id[BOOT_ID_MAX];
        sr_err_t err;
        ssize_t n;
        int fd;

        err = dir_path(store, MARK_FILE, path, ec);
        if (err)
                return err;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                *mark = MARK_ABSENT;
                return SR_OK;
        }
        if (fd < 0)
                return sr_errctx_set(ec, SR_ERR_IO, "store %s: open %s: %s",
                                     store->dir, MARK_FILE, strerror(errno));
        n = read(fd, id, sizeof(id) - 1);
        close(fd);
        /* Unreadable or torn counts as another boot: safe side. */
        id[n > 0 ? n : 0] = '\0';
        *mark = classify_mark(store, id);
        return SR_OK;
}

/* Durably record @p id as the boot of unsynced writes: temp file, fsync,
 * rename, fsync dir. Must complete before any unsynced page is written. */
static sr_err_t mark_write(const sr_store_t *store, const char *id,
                           sr_errctx_t *ec)
{
        char path[PATH_MAX], tmp[PATH_MAX];
        size_t len = strlen(id);
        sr_err_t err;
        int fd;

        err = dir_path(store, MARK_FILE, path, ec);
        if (!err)
                err = dir_path(store, MARK_FILE ".tmp", tmp, ec);
        if (err)
                return err;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0)
                return sr_errctx_set(ec, SR_ERR_IO, "store %s: open %s: %s",
                                     store->dir, tmp, strerror(errno));
        if (write(fd, id, len) != (ssize_t)len || fsync(fd) != 0) {
                err = sr_errctx_set(ec, SR_ERR_IO,
                                    "store %s: write %s: %s", store->dir,
                                    tmp, strerror(errno));
                close(fd);
                unlink(tmp);
                return err;
        }
        close(fd);
        if (rename(tmp, path) != 0) {
                err = sr_errctx_set(ec, SR_ERR_IO,
                                    "store %s: rename %s: %s", store->dir,
                                    tmp, strerror(errno));
                unlink(tmp);
                return err;
        }
        return sync_dir(store, ec);
}

/* Only after data.mdb is fully synced. */
static sr_err_t mark_clear(const sr_store_t *store, sr_errctx_t *ec)
{
        char path[PATH_MAX];
        sr_err_t err;

        err = dir_path(store, MARK_FILE, path, ec);
        if (err)
                return err;
        if (unlink(path) != 0 && errno != ENOENT)
                return sr_errctx_set(ec, SR_ERR_IO,
                                     "store %s: unlink %s: %s", store->dir,
                                     MARK_FILE, strerror(errno));
        return sync_dir(store, ec);
}

static const char *current_boot(const sr_store_t *store)
{
        return store->boot_known ? store->boot_id : UNKNOWN_BOOT;
}

/* Unsynced writes are about to start: mark this boot first. */
static sr_err_t mark_before_unsynced_write(sr_store_t *store,
                                           sr_errctx_t *ec)
{
        sr_err_t err;

        if (store->sync || store->mark != MARK_ABSENT)
                return SR_OK;
        err = mark_write(store, current_boot(store), ec);
        if (err)
                return err;
        store->mark = MARK_CURRENT;
        return SR_OK;
}

/* Everything is on disk now (synced commit or forced sync). A failure
 * leaves the mark: the safe side, a needless restore at worst. */
static void mark_after_sync(sr_store_t *store)
{
        if (store->mark == MARK_CURRENT && mark_clear(store, NULL) == SR_OK)
                store->mark = MARK_ABSENT;
}

/* ------------------------------------------------------------ open */

static int sys_put(MDB_txn *mtxn, const sr_store_t *store, const char *key,
                   const void *val, size_t len)
{
        MDB_val k = sr_lmdb_val(key, strlen(key)), v = sr_lmdb_val(val, len);

        return mdb_put(mtxn, store->dbi[DBI_SYS], &k, &v, 0);
}

/* Create or open the DBIs, check (or, if new, write) the format. */
static sr_err_t store_init(sr_store_t *store, sr_errctx_t *ec)
{
        uint8_t ver[4];
        MDB_txn *mtxn;
        MDB_val k, v;
        sr_err_t err;
        int rc, i;

        rc = mdb_txn_begin(store->env, NULL, 0, &mtxn);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", store->dir, "txn_begin");
        for (i = 0; i < DBI__COUNT; i++) {
                rc = mdb_dbi_open(mtxn, dbi_names[i], MDB_CREATE,
                                  &store->dbi[i]);
                if (rc) {
                        err = sr_lmdb_err(ec, rc, "store", store->dir,
                                          "dbi_open");
                        goto err_abort;
                }
        }
        k = sr_lmdb_val("version", 7);
        rc = mdb_get(mtxn, store->dbi[DBI_SYS], &k, &v);
        if (rc == MDB_NOTFOUND) {
                sr_lmdb_put_be32(ver, STORE_FORMAT);
                rc = sys_put(mtxn, store, "version", ver, sizeof(ver));
        } else if (rc == 0 && (v.mv_size != 4 ||
                               sr_lmdb_get_be32(v.mv_data) != STORE_FORMAT)) {
                err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                    "store %s: format %u, expected %d",
                                    store->dir,
                                    v.mv_size == 4 ?
                                            sr_lmdb_get_be32(v.mv_data) : 0u,
                                    STORE_FORMAT);
                goto err_abort;
        }
        if (rc) {
                err = sr_lmdb_err(ec, rc, "store", store->dir, "version");
                goto err_abort;
        }
        /* mdb_txn_commit() frees the txn on success and failure alike. */
        rc = mdb_txn_commit(mtxn);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", store->dir, "txn_commit");
        return SR_OK;

err_abort:
        mdb_txn_abort(mtxn);
        return err;
}

/* Open the LMDB environment of a trusted store into store->env. */
static sr_err_t env_open(sr_store_t *store, sr_errctx_t *ec)
{
        unsigned flags = MDB_NOTLS;
        MDB_env *env;
        sr_err_t err;
        int rc, dead;

        /* A new data.mdb starts with unsynced pages too. */
        err = mark_before_unsynced_write(store, ec);
        if (err)
                return err;
        rc = mdb_env_create(&env);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", store->dir, "env_create");
        rc = mdb_env_set_maxdbs(env, DBI__COUNT);
        if (!rc)
                rc = mdb_env_set_mapsize(env, store->map_size);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "store", store->dir, "env_set");
                goto err_close_env;
        }
        /* Unsynced, the pages are written in place through the map
         * (MDB_WRITEMAP): no copy through write(2) at every commit. A
         * killed process loses nothing (the kernel has the pages); a
         * machine crash is what mark_before_unsynced_write() covers. */
        if (!store->sync)
                flags |= MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP;
        rc = mdb_env_open(env, store->dir, flags, 0640);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "store", store->dir, "env_open");
                goto err_close_env;
        }
        /* Reader slots of killed processes would pin old pages forever. */
        rc = mdb_reader_check(env, &dead);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "store", store->dir, "reader_check");
                goto err_close_env;
        }
        store->env = env;
        err = store_init(store, ec);
        if (err) {
                store->env = NULL;
                goto err_close_env;
        }
        return SR_OK;

err_close_env:
        mdb_env_close(env);
        return err;
}

sr_err_t sr_store_open(const sr_store_opts_t *opts, sr_store_t **storep,
                       sr_errctx_t *ec)
{
        sr_store_t *store;
        sr_err_t err;

        if (!opts->dir)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store: no directory");
        err = sr_lmdb_make_dir("store", opts->dir, ec);
        if (err)
                return err;
        store = calloc(1, sizeof(*store));
        if (!store)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "store %s: calloc",
                                     opts->dir);
        store->dir = strdup(opts->dir);
        if (!store->dir) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "store %s: strdup",
                                    opts->dir);
                goto err_free_store;
        }
        store->sync = opts->sync;
        store->map_size = page_round(opts->map_size ?
                                     opts->map_size :
                                     SR_STORE_DEFAULT_MAP_SIZE);
        store->boot_known = read_boot_id(store->boot_id);
        err = mark_read(store, &store->mark, ec);
        if (err)
                goto err_free_dir;
        /* A possibly torn data.mdb is never read, not even by LMDB's
         * open: the only way on is sr_store_drop_all(). */
        if (store->mark != MARK_OTHER) {
                err = env_open(store, ec);
                if (err)
                        goto err_free_dir;
                /* Flush what an earlier unsynced session left. */
                if (store->sync && store->mark == MARK_CURRENT &&
                    mdb_env_sync(store->env, 1) == 0)
                        mark_after_sync(store);
        }

        *storep = store;
        return SR_OK;

err_free_dir:
        free(store->dir);
err_free_store:
        free(store);
        return err;
}

void sr_store_close(sr_store_t *store)
{
        if (!store)
                return;
        if (store->env) {
                /* A clean shutdown syncs, so a later reboot (not a crash)
                 * keeps the snapshot trusted. */
                if (store->mark == MARK_CURRENT &&
                    mdb_env_sync(store->env, 1) == 0)
                        mark_after_sync(store);
                mdb_env_close(store->env);
        }
        free(store->dir);
        free(store);
}

bool sr_store_is_untrusted(const sr_store_t *store)
{
        return store->mark == MARK_OTHER;
}

size_t sr_store_map_size(const sr_store_t *store)
{
        MDB_envinfo info;

        if (!store->env || mdb_env_info(store->env, &info))
                return store->map_size;
        return info.me_mapsize;
}

static sr_err_t check_usable(const sr_store_t *store, const char *op,
                             sr_errctx_t *ec)
{
        if (!store->env)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: %s: store is untrusted "
                                     "or broken; sr_store_drop_all() first",
                                     store->dir, op);
        return SR_OK;
}

sr_err_t sr_store_use(sr_store_t *store, sr_mapuse_t *out, sr_errctx_t *ec)
{
        sr_err_t err = check_usable(store, "use", ec);

        if (err)
                return err;
        if (store->n_txn)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: use: %u txn(s) open",
                                     store->dir, store->n_txn);
        return sr_lmdb_use(store->env, "store", store->dir, out, ec);
}

sr_err_t sr_store_grow(sr_store_t *store, size_t new_size, sr_errctx_t *ec)
{
        size_t cur = sr_store_map_size(store);
        sr_err_t err;
        int rc;

        err = check_usable(store, "grow", ec);
        if (err)
                return err;
        if (store->n_txn)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: grow: %u txn(s) open",
                                     store->dir, store->n_txn);
        new_size = page_round(new_size);
        if (new_size < cur)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: grow: %zu < map size %zu",
                                     store->dir, new_size, cur);
        if (new_size == cur)
                return SR_OK;
        rc = mdb_env_set_mapsize(store->env, new_size);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", store->dir, "set_mapsize");
        store->map_size = new_size;
        return SR_OK;
}

/* ------------------------------------------------------------ txns */

sr_err_t sr_store_txn_begin(sr_store_t *store, bool write, sr_txn_t **txnp,
                            sr_errctx_t *ec)
{
        sr_txn_t *txn;
        sr_err_t err;
        int rc;

        err = check_usable(store, "txn_begin", ec);
        if (err)
                return err;
        if (write && store->write_open)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: txn_begin: a write txn "
                                     "is already open",
                                     store->dir);
        if (write) {
                err = mark_before_unsynced_write(store, ec);
                if (err)
                        return err;
        }
        txn = malloc(sizeof(*txn));
        if (!txn)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "store %s: malloc",
                                     store->dir);
        txn->store = store;
        txn->write = write;
        txn->failed = false;
        txn->n_oseq = 0;
        rc = mdb_txn_begin(store->env, NULL, write ? 0 : MDB_RDONLY,
                           &txn->mtxn);
        if (rc == MDB_MAP_RESIZED) {
                /* Another process grew the map: adopt its size. */
                rc = mdb_env_set_mapsize(store->env, 0);
                if (!rc)
                        rc = mdb_txn_begin(store->env, NULL,
                                           write ? 0 : MDB_RDONLY,
                                           &txn->mtxn);
        }
        if (rc) {
                err = sr_lmdb_err(ec, rc, "store", store->dir, "txn_begin");
                free(txn);
                return err;
        }
        store->n_txn++;
        if (write)
                store->write_open = true;
        *txnp = txn;
        return SR_OK;
}

static void txn_release(sr_txn_t *txn)
{
        txn->store->n_txn--;
        if (txn->write)
                txn->store->write_open = false;
        free(txn);
}

sr_err_t sr_store_txn_commit(sr_txn_t *txn, sr_errctx_t *ec)
{
        sr_store_t *store = txn->store;
        bool write = txn->write;
        sr_err_t err = SR_OK;
        int rc;

        if (write) {
                if (txn->failed) {
                        err = sr_errctx_set(ec, SR_ERR_INVALID,
                                            "store %s: commit: an "
                                            "operation failed in this "
                                            "txn; it was aborted",
                                            store->dir);
                        goto out_abort;
                }
                err = sr_store__oseq_flush(txn, ec);
                if (err)
                        goto out_abort;
        }
        /* Frees the LMDB txn on failure too: no abort after this. */
        rc = mdb_txn_commit(txn->mtxn);
        txn_release(txn);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", store->dir, "txn_commit");
        /* A synced commit fdatasyncs the whole file, older pages too. */
        if (write && store->sync)
                mark_after_sync(store);
        return SR_OK;

out_abort:
        mdb_txn_abort(txn->mtxn);
        txn_release(txn);
        return err;
}

void sr_store_txn_abort(sr_txn_t *txn)
{
        if (!txn)
                return;
        mdb_txn_abort(txn->mtxn);
        txn_release(txn);
}

/* -------------------------------------------------------- entities */

sr_err_t sr_store_put(sr_txn_t *txn, int32_t partition, sr_slice_t key,
                      sr_slice_t value, sr_errctx_t *ec)
{
        uint8_t kb[4 + SR_STORE_KEY_MAX];
        MDB_val k, v;
        sr_err_t err;
        int rc;

        err = sr_store__check_write(txn, partition, "put", ec);
        if (!err)
                err = make_key(txn, kb, partition, key, &k, "put", ec);
        if (err)
                return err;
        v = sr_lmdb_val(value.ptr, value.len);
        rc = mdb_put(txn->mtxn, txn->store->dbi[DBI_ENT], &k, &v, 0);
        if (rc)
                return sr_store__txn_fail(txn, ec, rc, "put");
        return SR_OK;
}

sr_err_t sr_store_get(sr_txn_t *txn, int32_t partition, sr_slice_t key,
                      sr_slice_t *value, sr_errctx_t *ec)
{
        uint8_t kb[4 + SR_STORE_KEY_MAX];
        MDB_val k, v;
        sr_err_t err;
        int rc;

        err = sr_store__check_read(txn, partition, "get", ec);
        if (!err)
                err = make_key(txn, kb, partition, key, &k, "get", ec);
        if (err)
                return err;
        rc = mdb_get(txn->mtxn, txn->store->dbi[DBI_ENT], &k, &v);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", txn->store->dir, "get");
        *value = sr_slice(v.mv_data, v.mv_size);
        return SR_OK;
}

sr_err_t sr_store_del(sr_txn_t *txn, int32_t partition, sr_slice_t key,
                      sr_errctx_t *ec)
{
        uint8_t kb[4 + SR_STORE_KEY_MAX];
        MDB_val k;
        sr_err_t err;
        int rc;

        err = sr_store__check_write(txn, partition, "del", ec);
        if (!err)
                err = make_key(txn, kb, partition, key, &k, "del", ec);
        if (err)
                return err;
        rc = mdb_del(txn->mtxn, txn->store->dbi[DBI_ENT], &k, NULL);
        if (rc && rc != MDB_NOTFOUND)
                return sr_store__txn_fail(txn, ec, rc, "del");
        return SR_OK;
}

sr_err_t sr_store_scan_from(sr_txn_t *txn, int32_t partition,
                            sr_slice_t prefix, sr_slice_t from,
                            sr_store_scan_cb cb, void *arg, sr_errctx_t *ec)
{
        uint8_t kb[4 + SR_STORE_KEY_MAX], fb[4 + SR_STORE_KEY_MAX];
        MDB_cursor *cur;
        MDB_val k, v;
        size_t plen;
        sr_err_t err;
        int rc;

        if (from.len < prefix.len ||
            (prefix.len && memcmp(from.ptr, prefix.ptr, prefix.len)))
                return sr_errctx_set(ec, SR_ERR_INVALID, "store scan: the "
                                     "start key is not under the prefix");
        err = sr_store__check_read(txn, partition, "scan", ec);
        if (!err)
                err = make_key(txn, kb, partition, prefix, &k, "scan", ec);
        if (err)
                return err;
        plen = k.mv_size;
        err = make_key(txn, fb, partition, from, &k, "scan", ec);
        if (err)
                return err;
        rc = mdb_cursor_open(txn->mtxn, txn->store->dbi[DBI_ENT], &cur);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", txn->store->dir, "scan");
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (!rc) {
                if (k.mv_size < plen || memcmp(k.mv_data, kb, plen))
                        break;
                if (cb(sr_slice((const uint8_t *)k.mv_data + 4,
                                k.mv_size - 4),
                       sr_slice(v.mv_data, v.mv_size), arg))
                        break;
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (rc && rc != MDB_NOTFOUND)
                return sr_lmdb_err(ec, rc, "store", txn->store->dir, "scan");
        return SR_OK;
}

sr_err_t sr_store_scan(sr_txn_t *txn, int32_t partition, sr_slice_t prefix,
                       sr_store_scan_cb cb, void *arg, sr_errctx_t *ec)
{
        return sr_store_scan_from(txn, partition, prefix, prefix, cb, arg,
                                  ec);
}

/* ---------------------------------------------- per-partition meta */

#define PMETA_SIZE 32

sr_err_t sr_store_pmeta_get(sr_txn_t *txn, int32_t partition,
                            sr_store_pmeta_t *out, sr_errctx_t *ec)
{
        uint8_t kb[4] = { 0 };
        MDB_val k = sr_lmdb_val(kb, sizeof(kb)), v;
        const uint8_t *p;
        sr_err_t err;
        int rc;

        err = sr_store__check_read(txn, partition, "pmeta_get", ec);
        if (err)
                return err;
        sr_lmdb_put_be32(kb, (uint32_t)partition);
        rc = mdb_get(txn->mtxn, txn->store->dbi[DBI_META], &k, &v);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", txn->store->dir,
                                   "pmeta_get");
        if (v.mv_size != PMETA_SIZE)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "store %s: pmeta_get: partition %d: "
                                     "%zu bytes",
                                     txn->store->dir, (int)partition,
                                     v.mv_size);
        p = v.mv_data;
        out->commands_offset = (int64_t)sr_lmdb_get_be64(p);
        out->results_offset = (int64_t)sr_lmdb_get_be64(p + 8);
        out->changelog_end = (int64_t)sr_lmdb_get_be64(p + 16);
        out->batch_seq = sr_lmdb_get_be64(p + 24);
        return SR_OK;
}

sr_err_t sr_store_pmeta_put(sr_txn_t *txn, int32_t partition,
                            const sr_store_pmeta_t *pmeta, sr_errctx_t *ec)
{
        uint8_t kb[4] = { 0 }, vb[PMETA_SIZE] = { 0 };
        MDB_val k = sr_lmdb_val(kb, sizeof(kb));
        MDB_val v = sr_lmdb_val(vb, sizeof(vb));
        sr_err_t err;
        int rc;

        err = sr_store__check_write(txn, partition, "pmeta_put", ec);
        if (err)
                return err;
        sr_lmdb_put_be32(kb, (uint32_t)partition);
        sr_lmdb_put_be64(vb, (uint64_t)pmeta->commands_offset);
        sr_lmdb_put_be64(vb + 8, (uint64_t)pmeta->results_offset);
        sr_lmdb_put_be64(vb + 16, (uint64_t)pmeta->changelog_end);
        sr_lmdb_put_be64(vb + 24, pmeta->batch_seq);
        rc = mdb_put(txn->mtxn, txn->store->dbi[DBI_META], &k, &v, 0);
        if (rc)
                return sr_store__txn_fail(txn, ec, rc, "pmeta_put");
        return SR_OK;
}

/* First partition >= @p from having a key in the cursor's DBI.
 * @returns 0 (*found tells), or an LMDB code. */
static int first_part_from(MDB_cursor *cur, uint32_t from, uint32_t *part,
                           bool *found)
{
        uint8_t kb[4] = { 0 };
        MDB_val k = sr_lmdb_val(kb, sizeof(kb)), v;
        int rc;

        sr_lmdb_put_be32(kb, from);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        *found = false;
        if (rc == MDB_NOTFOUND)
                return 0;
        if (rc)
                return rc;
        if (k.mv_size < 4)
                return MDB_CORRUPTED;
        *part = sr_lmdb_get_be32(k.mv_data);
        *found = true;
        return 0;
}

sr_err_t sr_store_partitions(sr_txn_t *txn, int32_t *parts, size_t cap,
                             size_t *n, sr_errctx_t *ec)
{
        static const int dbis[] = { DBI_ENT, DBI_META, DBI_OUTBOX };
        MDB_cursor *cur[3] = { NULL, NULL, NULL };
        uint32_t from = 0, best, p;
        size_t count = 0, i;
        sr_err_t err = SR_OK;
        bool found, hit;
        int rc;

        for (i = 0; i < 3; i++) {
                rc = mdb_cursor_open(txn->mtxn, txn->store->dbi[dbis[i]],
                                     &cur[i]);
                if (rc) {
                        err = sr_lmdb_err(ec, rc, "store", txn->store->dir,
                                        "partitions");
                        goto out_close;
                }
        }
        for (;;) {
                found = false;
                best = 0;
                for (i = 0; i < 3; i++) {
                        rc = first_part_from(cur[i], from, &p, &hit);
                        if (rc) {
                                err = sr_lmdb_err(ec, rc, "store",
                                                  txn->store->dir,
                                                "partitions");
                                goto out_close;
                        }
                        if (hit && (!found || p < best)) {
                                best = p;
                                found = true;
                        }
                }
                if (!found || best > INT32_MAX)
                        break;
                if (count == cap) {
                        err = sr_errctx_set(ec, SR_ERR_INVALID,
                                            "store %s: partitions: more "
                                            "than %zu",
                                            txn->store->dir, cap);
                        goto out_close;
                }
                parts[count++] = (int32_t)best;
                if (best == INT32_MAX)
                        break;
                from = best + 1;
        }
        *n = count;
out_close:
        for (i = 0; i < 3; i++)
                if (cur[i])
                        mdb_cursor_close(cur[i]);
        return err;
}

/* Delete the keys of @p dbi starting with @p prefix; with @p by_seq, only
 * outbox keys whose seq is <= @p last_seq. Counts deletions in *ndel. */
int sr_store__del_range(MDB_txn *mtxn, MDB_dbi dbi, const uint8_t *prefix,
                     size_t plen, bool by_seq, uint64_t last_seq,
                     uint64_t *ndel)
{
        uint8_t kb[12];
        MDB_cursor *cur;
        MDB_val k, v;
        int rc;

        rc = mdb_cursor_open(mtxn, dbi, &cur);
        if (rc)
                return rc;
        memcpy(kb, prefix, plen);
        k = sr_lmdb_val(kb, plen);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (!rc) {
                if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen))
                        break;
                if (by_seq && (k.mv_size != 12 ||
                               sr_lmdb_get_be64(
                                       (const uint8_t *)k.mv_data + 4) >
                                       last_seq))
                        break;
                rc = mdb_cursor_del(cur, 0);
                if (rc)
                        break;
                (*ndel)++;
                /* After a delete the cursor already sits on the next key;
                 * LMDB's MDB_NEXT knows (C_DEL) and does not skip it. */
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        return rc == MDB_NOTFOUND ? 0 : rc;
}

sr_err_t sr_store_partition_drop(sr_txn_t *txn, int32_t partition,
                                 sr_errctx_t *ec)
{
        static const int dbis[] = { DBI_ENT, DBI_META, DBI_OUTBOX };
        uint64_t ndel = 0;
        uint8_t kb[4];
        struct oseq *o = NULL;
        sr_err_t err;
        size_t i;
        int rc;

        err = sr_store__check_write(txn, partition, "partition_drop", ec);
        if (!err)
                err = sr_store__oseq_find(txn, (uint32_t)partition, &o, ec);
        if (err)
                return err;
        sr_lmdb_put_be32(kb, (uint32_t)partition);
        for (i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
                rc = sr_store__del_range(txn->mtxn, txn->store->dbi[dbis[i]],
                                         kb, 4,
                               false, 0, &ndel);
                if (rc)
                        return sr_store__txn_fail(txn, ec, rc,
                                                  "partition_drop");
        }
        /* The seq stays: a stale ack must not delete a future record. */
        if (o->count) {
                o->count = 0;
                o->dirty = true;
        }
        return SR_OK;
}

/* ------------------------------------------------------- whole store */

/* Remove data.mdb and lock.mdb: never read a possibly torn file. */
static sr_err_t remove_env_files(const sr_store_t *store, sr_errctx_t *ec)
{
        static const char *const files[] = { "data.mdb", "lock.mdb" };
        char path[PATH_MAX];
        sr_err_t err;
        size_t i;

        for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                err = dir_path(store, files[i], path, ec);
                if (err)
                        return err;
                if (unlink(path) != 0 && errno != ENOENT)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "store %s: unlink %s: %s",
                                             store->dir, files[i],
                                             strerror(errno));
        }
        return sync_dir(store, ec);
}

sr_err_t sr_store_drop_all(sr_store_t *store, sr_errctx_t *ec)
{
        sr_err_t err;

        if (store->n_txn)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: drop_all: %u txn(s) open",
                                     store->dir, store->n_txn);
        if (store->env) {
                mdb_env_close(store->env);
                store->env = NULL;
        }
        /* Files go first: the mark says "other boot" until they are gone,
         * so a crash in between only repeats the drop. */
        err = remove_env_files(store, ec);
        if (err)
                return err;
        if (store->mark != MARK_ABSENT) {
                err = mark_clear(store, ec);
                if (err)
                        return err;
                store->mark = MARK_ABSENT;
        }
        err = env_open(store, ec);
        if (err)
                sr_errctx_prefix(ec, "drop_all");
        return err;
}

sr_err_t sr_store_debug_set_boot_id(sr_store_t *store, const char *boot_id,
                                    sr_errctx_t *ec)
{
        sr_err_t err;

        if (store->n_txn)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: set_boot_id: txn open",
                                     store->dir);
        err = mark_write(store, boot_id, ec);
        if (err)
                return err;
        store->mark = classify_mark(store, boot_id);
        /* Behave as sr_store_open() would with this mark. */
        if (store->mark == MARK_OTHER && store->env) {
                mdb_env_close(store->env);
                store->env = NULL;
        } else if (store->mark != MARK_OTHER && !store->env) {
                return env_open(store, ec);
        }
        return SR_OK;
}

bool sr_store_debug_has_boot_mark(const sr_store_t *store)
{
        return store->mark != MARK_ABSENT;
}
