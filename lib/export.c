/*
 * export: one query per exported file, written row by row.
 */
#include "export.h"

#include <string.h>

#include "csvwrite.h"

struct export_kind {
	const char *what;
	const char *sql;         /* the first row's column names are the header */
};

#define CURRENT_GEN "(SELECT coalesce(max(id), 0) FROM generations)"
#define PREVIOUS_GEN "(SELECT coalesce(max(id), 0) FROM generations" \
	" WHERE id < " CURRENT_GEN ")"

/*
 * Contacts are written in rowid order by walking the table (NOT INDEXED):
 * through an index on gen the whole generation would be sorted first.
 */
static const struct export_kind kinds[] = {
	{ "rejects",
	  "SELECT i.path AS source, r.line AS line, r.email AS email,"
	  " r.reason AS reason, r.detail AS detail"
	  " FROM rejects r JOIN inputs i ON i.id = r.input_id"
	  " WHERE i.gen = " CURRENT_GEN
	  " ORDER BY r.input_id, r.line, r.id" },
	{ "results",
	  "SELECT email, external_id, CASE state WHEN 'sent' THEN 'pending'"
	  " ELSE state END AS state,"
	  " CASE WHEN state IN ('upserted', 'failed') THEN http_status END"
	  " AS http_status, enroll_status,"
	  " CASE WHEN state IN ('upserted', 'failed') THEN error END AS error,"
	  " source_status, meisa_id,"
	  " (SELECT group_concat(value, ';') FROM json_each(cleared))"
	  " AS cleared_fields"
	  " FROM contacts NOT INDEXED WHERE gen = " CURRENT_GEN
	  " ORDER BY id" },
	{ "suppressed",
	  "SELECT email, CASE WHEN source_status IS NOT NULL"
	  " THEN source_status ELSE 'meisa_unsubscribed' END AS reason,"
	  " state FROM contacts NOT INDEXED WHERE (source_status IS NOT NULL"
	  " OR email IN (SELECT email FROM unsubscribed))"
	  " AND gen = " CURRENT_GEN " ORDER BY id" },
	{ "missing",
	  "SELECT c.email AS email, c.external_id AS external_id,"
	  " CASE c.state WHEN 'sent' THEN 'pending' ELSE c.state END AS state,"
	  " c.meisa_id AS meisa_id, i.path AS last_seen_in,"
	  " g.started_at AS last_seen_at"
	  " FROM contacts c NOT INDEXED"
	  " LEFT JOIN inputs i ON i.id = c.input_id"
	  " LEFT JOIN generations g ON g.id = c.gen"
	  " WHERE c.gen = " PREVIOUS_GEN " AND " PREVIOUS_GEN " > 0"
	  " ORDER BY c.id" },
};

static const struct export_kind *find_kind(const char *what)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].what, what) == 0)
			return &kinds[i];
	return NULL;
}

static enum mb_rc write_rows(struct db *db, sqlite3_stmt *s,
			     struct csvwrite *w, uint64_t *rows,
			     struct err *e)
{
	const char *cells[16];
	int ncol = sqlite3_column_count(s), i, step;
	enum mb_rc rc;

	if (ncol > 16)
		return err_set(e, MB_EINTERNAL, "too many export columns");
	for (i = 0; i < ncol; i++)
		cells[i] = sqlite3_column_name(s, i);
	rc = csvwrite_row(w, cells, (size_t)ncol, e);
	while (rc == MB_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		for (i = 0; i < ncol; i++)
			cells[i] = (const char *)sqlite3_column_text(s, i);
		rc = csvwrite_row(w, cells, (size_t)ncol, e);
		(*rows)++;
	}
	if (rc == MB_OK && step != SQLITE_DONE)
		rc = db_fail(db, "cannot read", e);
	return rc;
}

enum mb_rc export_table(struct db *db, const char *what, const char *path,
			uint64_t *rows, struct err *e)
{
	const struct export_kind *kind = find_kind(what);
	struct csvwrite w = CSVWRITE_INIT;
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	*rows = 0;
	if (!kind)
		return err_set(e, MB_EUSAGE, "unknown export '%s' (rejects,"
			       " results, suppressed, missing, unsubscribed)",
			       what);
	rc = db_prepare(db, &s, kind->sql, e);
	if (rc == MB_OK)
		rc = csvwrite_open(&w, path, e);
	if (rc == MB_OK)
		rc = write_rows(db, s, &w, rows, e);
	if (rc == MB_OK)
		rc = csvwrite_close(&w, e);
	else
		csvwrite_abort(&w);
	sqlite3_finalize(s);
	return rc;
}

enum mb_rc export_emails(const char *path, const char *const *emails,
			 size_t n, struct err *e)
{
	struct csvwrite w = CSVWRITE_INIT;
	const char *header = "email";
	enum mb_rc rc;
	size_t i;

	rc = csvwrite_open(&w, path, e);
	if (rc == MB_OK)
		rc = csvwrite_row(&w, &header, 1, e);
	for (i = 0; rc == MB_OK && i < n; i++)
		rc = csvwrite_row(&w, &emails[i], 1, e);
	if (rc == MB_OK)
		return csvwrite_close(&w, e);
	csvwrite_abort(&w);
	return rc;
}
