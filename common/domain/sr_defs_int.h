/* common/domain/sr_defs_int.h - what sr_defs.c (the rules) and
 * sr_defs_store.c (the records) share. Not for use outside those files.
 */
#ifndef SR_DEFS_INT_H
#define SR_DEFS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sr_defs.h"

/** Index of the entity with @p id in @p arr (elements of @p size whose
 * first member is the id: every entity type of the aggregate starts with
 * its id), -1 when none. */
int64_t sr_defs__find(const void *arr, uint32_t n, size_t size,
                      const sr_uuid_t *id);

#define SR_DEFS_FIND(d, arr, n, id)                                       \
        sr_defs__find((d)->arr, (d)->n, sizeof(*(d)->arr), id)

#endif /* SR_DEFS_INT_H */
