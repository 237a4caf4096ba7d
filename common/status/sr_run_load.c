/* common/status/sr_run_load.c - a run read from the snapshot: the records
 * under its key prefix decoded into the run container and indexed. The
 * worker's run cache (sr_worker_runs.c) loads through it, and so does
 * tests/bench/bench_stage.c, to time a cache miss. */
#include "sr_run_load.h"

#include <stddef.h>

typedef struct load_ctx {
        sr_codec_t *codec;
        sr_run_t *run;
        sr_err_t err;
        sr_errctx_t ec;
} load_ctx_t;

static int load_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        load_ctx_t *lc = arg;
        sr_changelog_t cl;
        const char *k = key.ptr;

        /* "<run>/d/..." are dedupe entries, not entities. */
        if (key.len > SR_UUID_STR_LEN + 2 && k[SR_UUID_STR_LEN + 1] == 'd')
                return 0;
        lc->err = sr_codec_decode_changelog(lc->codec, value, &cl, &lc->ec);
        if (lc->err)
                return 1;
        if (cl.kind == SR_CL_RETIRED) {
                lc->run->retired = true;
                lc->run->ret = cl.u.retired;
                return 0;
        }
        if (cl.kind == SR_CL_CHUNK) {
                lc->err = sr_run_add_chunk(lc->run, &cl.u.chunk, &lc->ec);
                if (lc->err) {
                        sr_stage_chunk_fini(&cl.u.chunk);
                        return 1;
                }
                return 0;
        }
        if (cl.kind != SR_CL_ENTITY)
                return 0;
        lc->err = sr_run_add_entity(lc->run, &cl.u.entity, &lc->ec);
        if (lc->err) {
                sr_entity_fini(&cl.u.entity);
                return 1;
        }
        return 0;
}

sr_err_t sr_run_load(sr_txn_t *txn, int32_t part, sr_codec_t *codec,
                     const sr_uuid_t *id, sr_run_t *run, sr_errctx_t *ec)
{
        char prefix[SR_ENTITY_KEY_MAX];
        size_t n = sr_run_key_prefix(id, prefix);
        load_ctx_t lc = { codec, run, SR_OK, { 0 } };
        sr_err_t err;

        err = sr_store_scan(txn, part, sr_slice(prefix, n), load_one, &lc,
                            ec);
        if (!err && lc.err) {
                *ec = lc.ec;
                err = lc.err;
        }
        if (!err && (run->exists || run->pr.n_stages))
                err = sr_run_index(run, ec);
        if (err)
                sr_run_fini(run);
        else /* as the cached copy: save_batch() */
                sr_run_release_chunks(run);
        return err;
}
