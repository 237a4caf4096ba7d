/* common/io/sr_mapuse.c - the map-use gauges and warning (sr_mapuse.h). */
#include "sr_mapuse.h"

#include <stdio.h>

#include "sr_log.h"

void sr_mapuse_watch_init(sr_mapuse_watch_t *w, sr_metrics_t *m,
                          const char *db, bool grows)
{
        char labels[64];

        w->db = db;
        w->grows = grows;
        w->over = false;
        w->next_ms = 0;
        w->map = w->used = NULL;
        if (!m)
                return;
        snprintf(labels, sizeof(labels), "db=\"%s\"", db);
        w->map = sr_metrics_gauge(m, "sr_lmdb_map_size_bytes",
                                  "Size of the LMDB map (the most the "
                                  "database may hold before it grows).",
                                  labels);
        w->used = sr_metrics_gauge(m, "sr_lmdb_used_bytes",
                                   "LMDB pages in use times the page size "
                                   "(written pages less the free list).",
                                   labels);
}

bool sr_mapuse_watch_due(const sr_mapuse_watch_t *w, int64_t now_ms)
{
        return now_ms >= w->next_ms;
}

void sr_mapuse_watch_force(sr_mapuse_watch_t *w)
{
        w->next_ms = 0;
}

bool sr_mapuse_watch_set(sr_mapuse_watch_t *w, const sr_mapuse_t *u,
                         const char *dir, int64_t now_ms)
{
        bool over = u->map_bytes &&
                    u->used_bytes * 100 > u->map_bytes * SR_MAPUSE_WARN_PCT;
        bool warn = over && !w->over;

        sr_series_set(w->map, (double)u->map_bytes);
        sr_series_set(w->used, (double)u->used_bytes);
        w->next_ms = now_ms + SR_MAPUSE_EVERY_MS;
        if (warn)
                SR_WARN("LMDB", "%s %s: %llu of %llu map bytes in use "
                        "(over %d %%): the map %s db=%s",
                        w->db, dir ? dir : "",
                        (unsigned long long)u->used_bytes,
                        (unsigned long long)u->map_bytes,
                        SR_MAPUSE_WARN_PCT,
                        w->grows ? "must grow soon (it doubles when full)" :
                                   "will be full soon (raise its size)",
                        w->db);
        w->over = over;
        return warn;
}
