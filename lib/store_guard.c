/*
 * store_guard: the staging file's answers for guard; see store_guard.h.
 */
#include "store_guard.h"

#include <sqlite3.h>
#include <string.h>

/* Run sql with ?1 = a, ?2 = b; the first row's two integers. */
static enum mb_rc two_ints(struct db *db, const char *sql, int64_t a,
			   int64_t b, int64_t out[2], struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;
	int step;

	rc = db_prepare(db, &s, sql, e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		out[0] = sqlite3_column_int64(s, 0);
		out[1] = sqlite3_column_int64(s, 1);
	} else {
		rc = db_fail(db, "cannot read the generations of", e);
	}
	sqlite3_finalize(s);
	return rc;
}

enum mb_rc store_guard_incomplete(struct db *db, int64_t gen, int *found,
				  struct buf *path, struct buf *error,
				  struct err *e)
{
	sqlite3_stmt *s = NULL;
	const char *text;
	enum mb_rc rc;
	int step;

	rc = db_prepare(db, &s, "SELECT path, coalesce(error, '') FROM inputs"
			" WHERE gen = ?1 AND complete = 0 AND error IS NOT NULL"
			" ORDER BY id LIMIT 1",
			e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, gen);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(s, 0);
		rc = buf_addstr(path, text ? text : "");
		text = (const char *)sqlite3_column_text(s, 1);
		if (rc == MB_OK)
			rc = buf_addstr(error, text ? text : "");
		if (rc == MB_OK)
			*found = 1;
	} else if (step == SQLITE_DONE) {
		*found = 0;
	} else {
		rc = db_fail(db, "cannot read the inputs of", e);
	}
	sqlite3_finalize(s);
	if (rc == MB_ETOOBIG)
		rc = err_set(e, rc, "input name or error too long");
	return rc;
}

/*
 * The contacts of the previous generation are not kept as such: those
 * still last seen there are missing now, and those seen again tonight
 * carry an acknowledgement from an earlier generation (a contact that
 * failed or was skipped every night so far is not counted: the share
 * missing can only come out larger, never hide a shrink).
 */
enum mb_rc store_guard_shrink(struct db *db, int64_t gen, int64_t previous,
			      int64_t *missing, int64_t *before,
			      struct err *e)
{
	int64_t v[2];
	enum mb_rc rc;

	/*
	 * Schema 4 (db.h): missing is vanished = 1 AND gen = previous; a
	 * contact seen again tonight is vanished = 0, with the gen of the
	 * night that last wrote it: an older one when unchanged, tonight's
	 * when changed (then only its acknowledgement tells it is old).
	 */
	rc = two_ints(db, "SELECT coalesce(sum(vanished = 1 AND gen = ?2), 0),"
		      " coalesce(sum(vanished = 0 AND (gen < ?1 OR"
		      " acked_gen < ?1)), 0) FROM contacts", gen, previous, v,
		      e);
	if (rc == MB_OK) {
		*missing = v[0];
		*before = v[0] + v[1];
	}
	return rc;
}
