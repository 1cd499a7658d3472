/*
 * store_rows: one query per exported file, stepped by a cursor.
 */
#include "store_rows.h"

#define CURRENT_GEN "(SELECT coalesce(max(id), 0) FROM generations)"
#define UNCONFIRMED_SKIPPED "(state = 'skipped' AND unconfirmed <> 0)"
#define PREVIOUS_GEN "(SELECT coalesce(max(id), 0) FROM generations" \
	" WHERE id < " CURRENT_GEN ")"

/*
 * By enum store_rows_kind; the column names are the file's header.
 * Contacts are written in rowid order by walking the table (NOT INDEXED):
 * through an index on gen the whole generation would be sorted first.
 */
static const char *const kind_sql[] = {
	[STORE_ROWS_REJECTS] =
	  "SELECT i.path AS source, r.line AS line, r.email AS email,"
	  " r.reason AS reason, r.detail AS detail"
	  " FROM rejects r JOIN inputs i ON i.id = r.input_id"
	  " WHERE i.gen = " CURRENT_GEN
	  " ORDER BY r.input_id, r.line, r.id",
	[STORE_ROWS_RESULTS] =
	  "SELECT email, external_id, CASE state WHEN 'sent' THEN 'pending'"
	  " ELSE state END AS state,"
	  " CASE WHEN state IN ('upserted', 'failed') THEN http_status END"
	  " AS http_status, enroll_status,"
	  " CASE WHEN state IN ('upserted', 'failed') THEN error END AS error,"
	  " source_status, meisa_id,"
	  " (SELECT group_concat(value, ';') FROM json_each(cleared))"
	  " AS cleared_fields"
	  " FROM contacts NOT INDEXED WHERE vanished = 0"
	  " ORDER BY id",
	/* Unconfirmed contacts a push skipped are held back too. */
	[STORE_ROWS_SUPPRESSED] =
	  "SELECT email, CASE WHEN source_status IS NOT NULL"
	  " THEN source_status WHEN " UNCONFIRMED_SKIPPED " THEN 'unconfirmed'"
	  " ELSE 'meisa_unsubscribed' END AS reason,"
	  " state FROM contacts NOT INDEXED WHERE (source_status IS NOT NULL"
	  " OR " UNCONFIRMED_SKIPPED
	  " OR email IN (SELECT email FROM unsubscribed))"
	  " AND vanished = 0 ORDER BY id",
	[STORE_ROWS_MISSING] =
	  "SELECT c.email AS email, c.external_id AS external_id,"
	  " CASE c.state WHEN 'sent' THEN 'pending' ELSE c.state END AS state,"
	  " c.meisa_id AS meisa_id, i.path AS last_seen_in,"
	  " g.started_at AS last_seen_at"
	  " FROM contacts c NOT INDEXED"
	  " LEFT JOIN inputs i ON i.id = c.input_id"
	  " LEFT JOIN generations g ON g.id = c.gen"
	  " WHERE c.vanished = 1 AND c.gen = " PREVIOUS_GEN
	  " AND " PREVIOUS_GEN " > 0"
	  " ORDER BY c.id",
};

enum mb_rc store_rows_open(struct store_rows *rows, struct db *db,
			   enum store_rows_kind kind, struct err *e)
{
	enum mb_rc rc;
	int ncol;

	rows->db = db;
	if ((unsigned)kind >= sizeof(kind_sql) / sizeof(kind_sql[0]))
		return err_set(e, MB_EINTERNAL, "unknown export rows %d",
			       (int)kind);
	rc = db_prepare(db, &rows->stmt, kind_sql[kind], e);
	if (rc != MB_OK)
		return rc;
	ncol = sqlite3_column_count(rows->stmt);
	if (ncol > STORE_ROWS_COLUMNS_MAX)
		return err_set(e, MB_EINTERNAL, "too many export columns");
	rows->ncells = (size_t)ncol;
	return MB_OK;
}

void store_rows_header(struct store_rows *rows, struct store_row *row)
{
	size_t i;

	for (i = 0; i < rows->ncells; i++)
		rows->cells[i] = sqlite3_column_name(rows->stmt, (int)i);
	row->done = 0;
	row->ncells = rows->ncells;
	row->cells = rows->cells;
}

enum mb_rc store_rows_next(struct store_rows *rows, struct store_row *row,
			   struct err *e)
{
	int step = sqlite3_step(rows->stmt);
	size_t i;

	if (step == SQLITE_DONE) {
		row->done = 1;
		return MB_OK;
	}
	if (step != SQLITE_ROW)
		return db_fail(rows->db, "cannot read", e);
	for (i = 0; i < rows->ncells; i++)
		rows->cells[i] = (const char *)sqlite3_column_text(rows->stmt,
								   (int)i);
	row->done = 0;
	row->ncells = rows->ncells;
	row->cells = rows->cells;
	return MB_OK;
}

void store_rows_close(struct store_rows *rows)
{
	size_t i;

	if (!rows)
		return;
	sqlite3_finalize(rows->stmt);
	rows->stmt = NULL;
	rows->db = NULL;
	for (i = 0; i < rows->ncells; i++)
		rows->cells[i] = NULL;
	rows->ncells = 0;
}
