/*
 * store_chunks: enrollment chunks, each statement prepared, stepped and
 * checked here.
 */
#include "store_chunks.h"

#include "store_outbox.h"

#define CURRENT_GEN STORE_CURRENT_GEN

/*
 * NOT INDEXED: in rowid order (see store_outbox's cursor).  The next
 * chunk's contacts are searched from the caller's after_id on, so that
 * building 2,000 chunks does not walk the contacts already chunked 2,000
 * times.
 */
static const char enrollable_sql[] =
	" FROM contacts NOT INDEXED WHERE source_status IS NULL"
	" AND chunk_id IS NULL"
	" AND enroll_status IS NULL AND state IN ('pending', 'sent',"
	" 'upserted') AND email NOT IN (SELECT email FROM unsubscribed)"
	" AND vanished = 0";

enum mb_rc store_chunks_count(struct db *db, int64_t *enrollable,
			      int64_t *open, struct err *e)
{
	struct buf sql = BUF_INIT;
	int64_t to_enroll = 0, open_chunks = 0;
	enum mb_rc rc;

	rc = buf_printf(&sql, "SELECT count(*)%s", enrollable_sql);
	if (rc == MB_OK)
		rc = db_int(db, sql.data, &to_enroll, e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT count(*) FROM chunks WHERE"
			    " state IN ('built', 'sent')", &open_chunks, e);
	if (rc == MB_OK) {
		*enrollable = to_enroll;
		*open = open_chunks;
	}
	buf_release(&sql);
	return rc;
}

/* A new chunk row for sequence, empty yet, into *id. */
static enum mb_rc insert_chunk(struct db *db, const char *sequence,
			       int64_t *id, struct err *e)
{
	sqlite3_stmt *s = NULL;
	char now[32];
	enum mb_rc rc;

	db_now_iso(now, sizeof(now));
	rc = db_prepare(db, &s, "INSERT INTO chunks(sequence_slug,"
			" size, created_at) VALUES(?, 0, ?)", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, sequence, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(db, "cannot build chunk in", e);
	else
		*id = sqlite3_last_insert_rowid(db->sql);
	sqlite3_finalize(s);
	return rc;
}

/*
 * Fill new chunk id with up to max enrollable upserted contacts above
 * after_id; an empty chunk is deleted (*id = 0), else its size is set
 * and *last is its highest contact id.
 */
static enum mb_rc build_chunk(struct db *db, const char *sequence,
			      int64_t after_id, int max, int64_t *id,
			      int64_t *last, struct err *e)
{
	struct buf sql = BUF_INIT;
	int64_t size = 0;
	enum mb_rc rc;

	rc = insert_chunk(db, sequence, id, e);
	if (rc == MB_OK)
		rc = buf_printf(&sql, "UPDATE contacts SET chunk_id ="
				" %lld WHERE id IN (SELECT id%s AND state ="
				" 'upserted' AND id > %lld ORDER BY id"
				" LIMIT %d)", (long long)*id, enrollable_sql,
				(long long)after_id, max);
	if (rc == MB_OK)
		rc = db_exec(db, sql.data, e);
	size = sqlite3_changes(db->sql);
	buf_reset(&sql);
	if (rc == MB_OK)
		rc = buf_printf(&sql, size ? "UPDATE chunks SET size ="
				" %lld WHERE id = %lld" : "DELETE FROM"
				" chunks WHERE %lld = 0 AND id = %lld",
				(long long)size, (long long)*id);
	if (rc == MB_OK)
		rc = db_exec(db, sql.data, e);
	buf_reset(&sql);
	if (rc == MB_OK && size)
		rc = buf_printf(&sql, "SELECT max(id) FROM contacts"
				" WHERE chunk_id = %lld", (long long)*id);
	if (rc == MB_OK && size)
		rc = db_int(db, sql.data, last, e);
	if (!size)
		*id = 0;
	buf_release(&sql);
	return rc;
}

enum mb_rc store_chunks_next(struct db *db, const char *sequence,
			     int64_t after_id, int max, int64_t *id,
			     int64_t *last, struct err *e)
{
	int64_t open = 0, built = 0, top = *last;
	enum mb_rc rc;

	/* A resumed chunk loses addresses Meisa has since unsubscribed. */
	rc = db_exec(db, "UPDATE contacts SET chunk_id = NULL, enroll_status"
		     " = 'suppressed' WHERE chunk_id IN (SELECT id FROM chunks"
		     " WHERE state IN ('built', 'sent')) AND email IN (SELECT"
		     " email FROM unsubscribed)", e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT coalesce(min(id), 0) FROM chunks"
			    " WHERE state IN ('built', 'sent')", &open, e);
	if (rc == MB_OK && !open)
		rc = build_chunk(db, sequence, after_id, max, &built, &top, e);
	if (rc == MB_OK) {
		*id = open ? open : built;
		*last = top;
	}
	return rc;
}

enum mb_rc store_chunks_body(struct db *db, const char *sequence, int64_t id,
			     struct buf *out, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_prepare(db, &s, "SELECT json_object('sequence_slug', ?1,"
			" 'emails', (SELECT json_group_array(email) FROM"
			" (SELECT email FROM contacts WHERE chunk_id = ?2"
			" ORDER BY id)))", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, sequence, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = buf_set(out, sqlite3_column_text(s, 0),
			     (size_t)sqlite3_column_bytes(s, 0));
	else
		rc = db_fail(db, "cannot read chunk from", e);
	sqlite3_finalize(s);
	return rc;
}

/*
 * An answer names the addresses it says something about; the others are
 * missing from it.  The answer is read once into a table (it must be
 * MATERIALIZED: flattened, SQLite scans it again for every member, 500 x
 * 500 JSON reads a chunk) and its addresses looked up.
 */
static const char *const answered[] = {
	"UPDATE contacts SET enroll_status = CASE WHEN NOT"
	" json_valid(?2) THEN 'acknowledged' WHEN json_type(?2,"
	" '$.results') = 'array' THEN 'missing_from_answer'"
	" ELSE 'acknowledged' END WHERE chunk_id = ?1",
	"WITH r AS MATERIALIZED (SELECT"
	" lower(json_extract(value, '$.email')) AS email,"
	" json_extract(value, '$.status') AS status FROM json_each("
	" CASE WHEN json_valid(?2) THEN ?2 ELSE '{}' END, '$.results')"
	" WHERE json_extract(value, '$.status') IS NOT NULL)"
	" UPDATE contacts SET enroll_status = r.status FROM r"
	" WHERE contacts.email = r.email AND contacts.chunk_id = ?1",
	NULL
};

static const char *const refused[] = {
	"UPDATE contacts SET enroll_status = 'failed', error = ?2"
	" WHERE chunk_id = ?1",
	NULL
};

/* Run each statement of sql with ?1 = id and ?2 = text. */
static enum mb_rc record_members(struct db *db, const char *const *sql,
				 int64_t id, const char *text, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc = MB_OK;

	for (; rc == MB_OK && *sql; sql++) {
		rc = db_prepare(db, &s, *sql, e);
		if (rc != MB_OK)
			break;
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_bind_parameter_count(s) >= 2)
			sqlite3_bind_text(s, 2, text, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = db_fail(db, "cannot record chunk in", e);
		sqlite3_finalize(s);
		s = NULL;
	}
	return rc;
}

enum mb_rc store_chunks_record(struct db *db, int64_t id, int ok,
			       long status, const char *answer,
			       const char *error, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = record_members(db, ok ? answered : refused, id,
			    ok ? answer : error, e);
	if (rc == MB_OK)
		rc = db_prepare(db, &s, "UPDATE chunks SET state = ?2,"
				" http_status = ?3, error = ?4, attempts ="
				" attempts + 1, acked_at = strftime("
				"'%Y-%m-%dT%H:%M:%fZ') WHERE id = ?1", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, ok ? "acknowledged" : "failed", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int(s, 3, (int)status);
	if (ok)
		sqlite3_bind_null(s, 4);
	else
		sqlite3_bind_text(s, 4, error, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(db, "cannot record chunk in", e);
	sqlite3_finalize(s);
	return rc;
}
