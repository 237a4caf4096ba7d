/* common/domain/sr_run_int.h - what sr_run.c, sr_run_pages.c and
 * sr_run_chunks.c share; not for other modules. */
#ifndef SR_RUN_INT_H
#define SR_RUN_INT_H

#include "sr_run.h"

/* The page table for @p n target runs (new entries: no page held). */
bool sr_run__reserve_pages(sr_run_t *run, uint32_t n);
/* Page @p pg, allocated if not held (its slots uninitialised). */
sr_target_run_t *sr_run__page_get(sr_run_t *run, uint32_t pg);
/* Target run @p ti is now held in its page. */
void sr_run__make_resident(sr_run_t *run, uint32_t ti);
/* Record the run's first fault (@p ec says what): sr_run_t.fault. */
void sr_run__set_fault(sr_run_t *run, const sr_errctx_t *ec);
/* Drop clean chunk @p p's targets, to be read back (with a chunk
 * pager). @returns the targets dropped. */
uint32_t sr_run__chunk_page_out(sr_run_t *run, uint32_t p);

#endif /* SR_RUN_INT_H */
