/* common/io/sr_mapuse.h - how full an LMDB map is (the worker's store,
 * the gateway's projection), as two gauges and one warning:
 *
 *   sr_lmdb_map_size_bytes{db="store"}   the map's size
 *   sr_lmdb_used_bytes{db="store"}       pages in use x page size (the
 *                                        pages ever written, less those on
 *                                        LMDB's free list)
 *
 * and a WARN line when use passes SR_MAPUSE_WARN_PCT % of the map (before
 * the store must grow it, or the projection fills it), logged once per
 * crossing: again only after use fell below and rose past it again.
 * No LMDB type here (LMDB is private to io): sr_lmdb_use() in sr_lmdb.h,
 * sr_store_use() and sr_proj_size() measure. */
#ifndef SR_MAPUSE_H
#define SR_MAPUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_metrics.h"

#define SR_MAPUSE_WARN_PCT 80
#define SR_MAPUSE_EVERY_MS 2000 /* how often the owners measure */

/* One measurement. */
typedef struct sr_mapuse {
        uint64_t map_bytes;  /* the map's size */
        uint64_t used_bytes; /* pages in use x page size */
        uint64_t high_bytes; /* pages ever written x page size (the file) */
} sr_mapuse_t;

/* The gauges and the warning's state of one map. Zero-initialise, then
 * sr_mapuse_watch_init(); one thread at a time. */
typedef struct sr_mapuse_watch {
        sr_series_t *map, *used; /* borrowed from the registry; NULL: none */
        const char *db;          /* "store", "projection": a literal */
        bool grows;              /* the owner grows the map when full */
        bool over;               /* use above the threshold, warned */
        int64_t next_ms;         /* next due measurement (mono ms) */
} sr_mapuse_watch_t;

/**
 * @brief Register the two gauges of map @p db (a string literal, the
 * label value) in @p m (NULL: no gauges, the warning still works).
 * @p grows: its owner grows the map when full (the store) or not (the
 * projection), for the warning's text.
 */
void sr_mapuse_watch_init(sr_mapuse_watch_t *w, sr_metrics_t *m,
                          const char *db, bool grows);

/** @brief Is a measurement due at @p now_ms (monotonic)? */
bool sr_mapuse_watch_due(const sr_mapuse_watch_t *w, int64_t now_ms);

/** @brief Make the next sr_mapuse_watch_due() true (after map growth). */
void sr_mapuse_watch_force(sr_mapuse_watch_t *w);

/**
 * @brief Take a measurement: set the gauges, the next due time, and warn
 * (naming @p dir, borrowed) when use crossed the threshold upwards.
 * @returns true when this call logged the warning.
 */
bool sr_mapuse_watch_set(sr_mapuse_watch_t *w, const sr_mapuse_t *u,
                         const char *dir, int64_t now_ms);

#endif /* SR_MAPUSE_H */
