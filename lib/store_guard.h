/*
 * store_guard: the questions guard (guard.h) asks the staging file (store
 * layer: the SQL lives here).
 *
 * Errors: MB_OK or e filled via db_fail (MB_EDB, MB_ELOCKED) naming the
 * staging file and SQLite's message.  The db is borrowed; nothing is
 * written.  Out-parameters are written only on success.
 */
#ifndef MB_STORE_GUARD_H
#define MB_STORE_GUARD_H

#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "err.h"

/*
 * The first input of generation gen whose reading stopped at damage
 * (inputs.complete = 0 with the error text: stage records so; a row not
 * ended yet has no error): *found, and its path and error appended to
 * path and error (left alone when none).
 */
enum mb_rc store_guard_incomplete(struct db *db, int64_t gen, int *found,
				  struct buf *path, struct buf *error,
				  struct err *e);

/*
 * *missing: contacts last seen in generation previous (absent from gen);
 * *before: previous's contacts, i.e. those plus the contacts of gen that
 * Meisa acknowledged in an earlier generation.
 */
enum mb_rc store_guard_shrink(struct db *db, int64_t gen, int64_t previous,
			      int64_t *missing, int64_t *before,
			      struct err *e);

#endif
