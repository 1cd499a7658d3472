/*
 * store_chunks: enrollment chunks in the staging file (store layer).
 *
 * Owns the chunks table and the contacts' chunk_id and enroll_status: what
 * is left to enroll, the chunk to send next (an open one, else a new one
 * built from the enrollable contacts of the latest generation), the body
 * of a chunk and the outcome its answer gives each address.  push.c sends
 * the chunks and commits; this file only reads and writes.
 *
 * A chunk's membership is committed before it is sent, so a chunk whose
 * answer was lost is sent again on the next run (Meisa skips addresses
 * already enrolled).  Contacts suppressed at the source, on Meisa's
 * unsubscribed list, or not (yet) upserted are never in a chunk.
 *
 * Errors: MB_OK or e filled via db_fail (MB_EDB, or MB_ELOCKED when
 * SQLite is busy) naming the staging file and SQLite's message; a failed
 * step is an error, never "no row".  Out-parameters are written only on
 * success.  Writes expect the caller's transaction; reads need none.
 * Arguments are borrowed.
 */
#ifndef MB_STORE_CHUNKS_H
#define MB_STORE_CHUNKS_H

#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "err.h"

/*
 * The contacts of the latest generation still to be put in a chunk
 * (*enrollable) and the chunks built or sent but not acknowledged
 * (*open).
 */
MB_MUST_USE enum mb_rc store_chunks_count(struct db *db, int64_t *enrollable,
					  int64_t *open, struct err *e);

/*
 * The chunk to send next into *id, in the caller's transaction: the
 * oldest one built or sent but not acknowledged (its addresses Meisa has
 * since unsubscribed taken out first), else a new one for sequence of at
 * most max upserted contacts with an id above after_id, in id order.
 * *id = 0 when there is none.  *last is the highest contact id of a new
 * chunk (the caller's cursor for the next one), else left as it was.
 */
MB_MUST_USE enum mb_rc store_chunks_next(struct db *db, const char *sequence,
					 int64_t after_id, int max,
					 int64_t *id, int64_t *last,
					 struct err *e);

/* The bulk-enroll body of chunk id for sequence into out (replaced). */
MB_MUST_USE enum mb_rc store_chunks_body(struct db *db, const char *sequence,
					 int64_t id, struct buf *out,
					 struct err *e);

/*
 * Record chunk id's answer, in the caller's transaction.  A 2xx (ok)
 * records each address's outcome from the answer's "results" (answer,
 * as Meisa sent it) as Meisa wrote it; an address a results list leaves
 * out is 'missing_from_answer', and a 2xx without a results list
 * acknowledges them all.  Otherwise every address and the chunk failed
 * with error (the answer's text, for storing).  status: the HTTP status.
 */
MB_MUST_USE enum mb_rc store_chunks_record(struct db *db, int64_t id, int ok,
					   long status, const char *answer,
					   const char *error, struct err *e);

#endif
