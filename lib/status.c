/*
 * status: counts from the staging file's tables.
 */
#include "status.h"

#include <string.h>

/*
 * One query, one row: the columns are the SPEC.md fields in order.  A contact
 * is suppressed when the source says do-not-email or Meisa's unsubscribed
 * list holds it; 'sent' (in flight when a run stopped) counts as pending.
 */
static const char counts_sql[] =
	"SELECT"
	" (SELECT coalesce(sum(rows_read), 0) FROM inputs),"
	" (SELECT count(*) FROM rejects),"
	" (SELECT count(*) FROM duplicates),"
	" count(*),"
	" coalesce(sum(source_status IS NOT NULL OR u.email IS NOT NULL), 0),"
	" coalesce(sum(state = 'skipped'), 0),"
	" coalesce(sum(state = 'upserted'), 0),"
	" coalesce(sum(state = 'failed'), 0),"
	" coalesce(sum(state IN ('pending', 'sent')), 0),"
	" coalesce(sum(enroll_status IN ('enrolled', 'already_enrolled',"
	"   'acknowledged')), 0),"
	" (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'requests'),"
	" coalesce(sum(unconfirmed), 0),"
	" coalesce(sum(u.email IS NOT NULL), 0),"
	" (SELECT count(*) FROM chunks),"
	" (SELECT count(*) FROM chunks WHERE state = 'acknowledged')"
	/* One pass over contacts, whatever its size. */
	" FROM contacts LEFT JOIN unsubscribed u ON u.email = contacts.email";

enum mb_rc status_load(struct db *db, struct status_counts *c,
		       struct err *e)
{
	int64_t *fields[] = {
		&c->rows_read, &c->rejected, &c->duplicates, &c->contacts,
		&c->suppressed, &c->skipped, &c->upserted, &c->failed,
		&c->pending, &c->enrolled, &c->requests, &c->unconfirmed,
		&c->meisa_unsubscribed, &c->chunks, &c->chunks_acknowledged,
	};
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;
	size_t i;

	memset(c, 0, sizeof(*c));
	rc = db_prepare(db, &s, counts_sql, e);
	if (rc != MB_OK)
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW) {
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			*fields[i] = sqlite3_column_int64(s, (int)i);
	} else {
		rc = db_fail(db, "cannot read status of", e);
	}
	sqlite3_finalize(s);
	return rc;
}

enum mb_rc status_json(struct db *db, struct buf *out, struct err *e)
{
	struct status_counts c;
	sqlite3_stmt *s = NULL;
	struct buf as_of = BUF_INIT;
	enum mb_rc rc;

	rc = status_load(db, &c, e);
	if (rc == MB_OK)
		rc = db_meta_get(db, "unsubscribed_as_of", &as_of, e);
	if (rc == MB_OK)
		rc = db_prepare(db, &s, "SELECT json_object("
			"'rows_read', ?1, 'rejected', ?2, 'duplicates', ?3,"
			" 'contacts', ?4, 'suppressed', ?5, 'skipped', ?6,"
			" 'upserted', ?7, 'failed', ?8, 'pending', ?9,"
			" 'enrolled', ?10, 'requests', ?11, 'unconfirmed', ?12,"
			" 'meisa_unsubscribed', ?13, 'chunks', ?14,"
			" 'chunks_acknowledged', ?15,"
			" 'unsubscribed_as_of', nullif(?16, ''),"
			" 'staging_file', ?17)", e);
	if (rc == MB_OK) {
		int64_t v[] = { c.rows_read, c.rejected, c.duplicates,
			c.contacts, c.suppressed, c.skipped, c.upserted,
			c.failed, c.pending, c.enrolled, c.requests,
			c.unconfirmed, c.meisa_unsubscribed, c.chunks,
			c.chunks_acknowledged };
		size_t i;

		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
			sqlite3_bind_int64(s, (int)i + 1, v[i]);
		sqlite3_bind_text(s, 16, buf_str(&as_of), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 17, db->path, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			rc = buf_set(out, sqlite3_column_text(s, 0),
				     (size_t)sqlite3_column_bytes(s, 0));
		else
			rc = db_fail(db, "cannot read status of", e);
	}
	sqlite3_finalize(s);
	buf_release(&as_of);
	return rc;
}
