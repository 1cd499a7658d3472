/*
 * store_unsubscribed: Meisa's unsubscribed list, each statement prepared,
 * stepped and checked here.
 */
#include "store_unsubscribed.h"

/* Store the addresses of list (the table emptied first). */
static enum mb_rc insert_list(struct db *db, const char *list, size_t len,
			      struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_exec(db, "DELETE FROM unsubscribed", e);
	if (rc == MB_OK)
		/* Normalised as staged addresses are (validate.h). */
		rc = db_prepare(db, &s, "INSERT OR IGNORE INTO unsubscribed"
				" SELECT coalesce(mb_email(value),"
				" lower(trim(value))) FROM json_each(?1,"
				" '$.emails') WHERE json_valid(?1)"
				" AND type = 'text'", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, list, (int)len, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(db, "cannot store unsubscribed list in", e);
	sqlite3_finalize(s);
	return rc;
}

enum mb_rc store_unsubscribed_replace(struct db *db, const char *list,
				      size_t len, struct buf *as_of,
				      struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = insert_list(db, list, len, e);
	if (rc == MB_OK)
		rc = db_prepare(db, &s, "SELECT coalesce(json_extract(?1,"
				" '$.as_of'), '') WHERE json_valid(?1)", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, list, (int)len, SQLITE_STATIC);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = buf_addstr(as_of, (const char *)
				sqlite3_column_text(s, 0));
		break;
	case SQLITE_DONE:
		rc = err_set(e, MB_EPROTO, "Meisa's unsubscribed list"
			     " is not JSON");
		break;
	default:
		rc = db_fail(db, "cannot read unsubscribed list in", e);
	}
	sqlite3_finalize(s);
	if (rc == MB_OK)
		rc = db_meta_set(db, "unsubscribed_as_of", buf_str(as_of), e);
	return rc;
}
