/* common/io/sr_store_int.h - test hooks of sr_store; not for workers.
 * Included by sr_store.c and the store's unit tests only. */
#ifndef SR_STORE_INT_H
#define SR_STORE_INT_H

#include "sr_store.h"

/**
 * @brief Test only: record @p boot_id (borrowed) as the boot of unsynced
 * writes, durably, then behave exactly as sr_store_open() would with it:
 * another boot id makes the store untrusted (txns refused until
 * sr_store_drop_all()). Simulates "unsynced writes, then a machine crash".
 * No txn may be open.
 * @returns SR_OK, SR_ERR_INVALID (a txn is open), SR_ERR_IO.
 */
sr_err_t sr_store_debug_set_boot_id(sr_store_t *store, const char *boot_id,
                                    sr_errctx_t *ec);

/**
 * @brief Test only: true when a boot id is recorded, i.e. the data file
 * may hold unsynced pages that a machine crash could tear (read at open,
 * kept up to date by writes, syncs and close).
 */
bool sr_store_debug_has_boot_mark(const sr_store_t *store);

#endif /* SR_STORE_INT_H */
