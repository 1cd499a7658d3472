/*
 * store_sends: the send times of the staging file (store layer).
 *
 * Owns the sends table and the 'requests' count in meta: every request
 * sent is a row of its wall-clock time (for the hour window after a
 * restart) and one more in requests.  push reserves slots before sending
 * (rows stamped with the end of their validity, counted at once), replaces
 * a slot's row with the real time when a send uses it, and releases the
 * slots left on a clean end (push.h says why).
 *
 *   struct store_sends s = STORE_SENDS_INIT;
 *   rc = store_sends_open(&s, db, &e);
 *   ... store_sends_each / _reserve / _record / _drop ...
 *   store_sends_close(&s);
 *
 * Errors: MB_OK or e filled via db_fail (MB_EDB, or MB_ELOCKED when
 * SQLite is busy) naming the staging file and SQLite's message; a failed
 * step is an error, never "no row".  The writes expect the caller's
 * transaction (db_begin .. db_commit): they change several rows that must
 * move together.  The db is borrowed throughout.
 */
#ifndef MB_STORE_SENDS_H
#define MB_STORE_SENDS_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

/* Prepared once: the insert runs for every send. */
struct store_sends {
	struct db *db;           /* borrowed */
	sqlite3_stmt *insert;
};

#define STORE_SENDS_INIT { NULL, NULL }

/* Prepare; store_sends_close is needed whatever it returns. */
MB_MUST_USE enum mb_rc store_sends_open(struct store_sends *s, struct db *db,
					struct err *e);

/* Free the statements; NULL-safe, safe on STORE_SENDS_INIT, leaves it so. */
void store_sends_close(struct store_sends *s);

/*
 * Call fn(ctx, t_ms) for every send time >= since_ms, oldest first (a
 * read; no transaction needed).  A step that fails stops the walk with
 * the error: the calls made before it stand.
 */
MB_MUST_USE enum mb_rc store_sends_each(struct store_sends *s,
					int64_t since_ms,
					void (*fn)(void *ctx, int64_t t_ms),
					void *ctx, struct err *e);

/*
 * Write the n send times t_ms (borrowed), add uncounted to requests (the
 * sends no reserved slot counted) and delete the times before keep_ms.
 */
MB_MUST_USE enum mb_rc store_sends_record(struct store_sends *s,
					  const int64_t *t_ms, size_t n,
					  size_t uncounted, int64_t keep_ms,
					  struct err *e);

/*
 * Reserve n slots: n rows stamped stamp_ms, and n more requests.
 */
MB_MUST_USE enum mb_rc store_sends_reserve(struct store_sends *s,
					   int64_t stamp_ms, size_t n,
					   struct err *e);

/*
 * Delete n of the slots stamped stamp_ms; with uncount, take them off
 * requests too (slots given back unused, rather than used by a send
 * whose own row store_sends_record wrote).  n = 0 does nothing.
 */
MB_MUST_USE enum mb_rc store_sends_drop(struct store_sends *s,
					int64_t stamp_ms, size_t n,
					int uncount, struct err *e);

#endif
