/*
 * store_unsubscribed: the staging file's copy of Meisa's unsubscribed list
 * (store layer).
 *
 * Owns the unsubscribed table and meta's unsubscribed_as_of.  push's
 * pre-flight replaces the copy with the list Meisa just gave; the plan,
 * the enrollment chunks and status read it to leave those addresses out
 * of enrollments (they are still upserted).
 *
 * Errors: MB_OK or e filled via db_fail (MB_EDB, or MB_ELOCKED when
 * SQLite is busy) naming the staging file and SQLite's message;
 * MB_EPROTO when the list is not JSON.  Arguments are borrowed.
 */
#ifndef MB_STORE_UNSUBSCRIBED_H
#define MB_STORE_UNSUBSCRIBED_H

#include <stddef.h>

#include "buf.h"
#include "db.h"
#include "err.h"

/*
 * Replace the copy with list[0..len) (meisa_unsubscribed's {as_of, count,
 * emails}), in the caller's transaction: its addresses normalised as
 * staged ones are (validate.h), entries that are not strings left out,
 * and its as_of ("" when null) appended to as_of and kept in meta.
 */
MB_MUST_USE enum mb_rc store_unsubscribed_replace(struct db *db,
						  const char *list,
						  size_t len,
						  struct buf *as_of,
						  struct err *e);

#endif
