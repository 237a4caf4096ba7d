/* common/status/sr_run_load.h - a run read from the snapshot. */
#ifndef SR_RUN_LOAD_H
#define SR_RUN_LOAD_H

#include <stdint.h>

#include "sr_codec.h"
#include "sr_err.h"
#include "sr_run.h"
#include "sr_store.h"

/**
 * @brief Load run @p id from partition @p part of the snapshot into
 * @p run: every record under the run's key prefix decoded (its dedupe
 * entries skipped) and added, then indexed, as the worker's run cache
 * does on a miss. With a pager set on @p run (sr_run_set_pager()) the
 * load is lean: no target run stays resident.
 *
 * @p run must be initialised (sr_run_init()) and empty; the pager, if
 * any, set by the caller. On success the chunks a fill has passed are
 * released, as in a cached copy; on failure @p run is finalised.
 * A run with no record loads as an empty run (exists false).
 */
sr_err_t sr_run_load(sr_txn_t *txn, int32_t part, sr_codec_t *codec,
                     const sr_uuid_t *id, sr_run_t *run, sr_errctx_t *ec);

#endif
