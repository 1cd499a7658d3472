/*
 * store_runs: the runs table and the inputs each run staged.
 */
#include "store_runs.h"

#include <stddef.h>

enum mb_rc store_runs_begin(struct db *db, const char *kind,
			    const char *args, int64_t *id, struct err *e)
{
	sqlite3_stmt *s = NULL;
	char now[32];
	enum mb_rc rc;

	db_now_iso(now, sizeof(now));
	rc = db_prepare(db, &s, "INSERT INTO runs(kind, started_at, args)"
			" VALUES(?, ?, ?)", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, args, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(db, "cannot record run in", e);
	else
		*id = sqlite3_last_insert_rowid(db->sql);
	sqlite3_finalize(s);
	return rc;
}

void store_runs_end(struct db *db, int64_t id, int exit_status,
		    const char *summary_json)
{
	sqlite3_stmt *s = NULL;
	char now[32];

	if (!db->sql || !id)
		return;
	db_now_iso(now, sizeof(now));
	if (sqlite3_prepare_v2(db->sql, "UPDATE runs SET ended_at = ?,"
			       " exit_status = ?, summary = ? WHERE id = ?",
			       -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(s, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, exit_status);
	if (summary_json)
		sqlite3_bind_text(s, 3, summary_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, id);
	sqlite3_step(s);
	sqlite3_finalize(s);
}

static enum mb_rc lines_open(struct store_runs_lines *l, struct db *db,
			     const char *sql, struct err *e)
{
	l->db = db;
	return db_prepare(db, &l->stmt, sql, e);
}

enum mb_rc store_runs_history_open(struct store_runs_lines *l,
				   struct db *db, struct err *e)
{
	/* A run, then its inputs indented under it. */
	return lines_open(l, db, "SELECT printf('%-4d %-7s %-24s %-24s %-5s"
		" %s', id, kind, started_at, coalesce(ended_at, '(running or"
		" killed)'), coalesce(exit_status, '-'), args), id, 0 FROM runs"
		" UNION ALL SELECT printf('       input: %s  (%s bytes, sha256"
		" %s, generation %d, %d rows)', path, coalesce(size, '?'),"
		" coalesce(sha256, '?'), gen, rows_read), run_id, id"
		" FROM inputs WHERE run_id IS NOT NULL ORDER BY 2, 3", e);
}

enum mb_rc store_runs_inputs_open(struct store_runs_lines *l,
				  struct db *db, int64_t run, struct err *e)
{
	enum mb_rc rc;

	rc = lines_open(l, db, "SELECT printf('%s: %s, %s, delimiter"
			" %s, %d rows, %d rejected, %d duplicates',"
			" path, coalesce(preset, '?'), coalesce(kind,"
			" '?'), quote(coalesce(delimiter, '?')),"
			" rows_read, rejected, duplicates) FROM inputs"
			" WHERE run_id = ? ORDER BY id", e);
	if (rc == MB_OK)
		sqlite3_bind_int64(l->stmt, 1, run);
	return rc;
}

enum mb_rc store_runs_lines_next(struct store_runs_lines *l,
				 const char **line, struct err *e)
{
	int step = sqlite3_step(l->stmt);

	if (step == SQLITE_DONE) {
		*line = NULL;
		return MB_OK;
	}
	if (step != SQLITE_ROW)
		return db_fail(l->db, "cannot read the run history of", e);
	*line = (const char *)sqlite3_column_text(l->stmt, 0);
	if (!*line)
		*line = "";
	return MB_OK;
}

void store_runs_lines_close(struct store_runs_lines *l)
{
	if (!l)
		return;
	sqlite3_finalize(l->stmt);
	l->stmt = NULL;
	l->db = NULL;
}
