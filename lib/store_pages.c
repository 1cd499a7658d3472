/*
 * store_pages: the queries behind report, each prepared and stepped here.
 *
 * Cost on a million contacts matters (a report in under 2 s): the reject
 * and run tables are small; skipped contacts are read through the partial
 * index contacts_source_status (its WHERE repeated word for word, see
 * db.c schema 3); failed contacts and acknowledgement times have no index
 * and cost one pass over the contacts each, as status's own pass does.
 */
#include "store_pages.h"

static const char *const kind_sql[] = {
	/* Unconfirmed contacts a push skipped: through contacts_unconfirmed. */
	[STORE_PAGES_SKIPPED] =
	  "SELECT reason, contacts FROM ("
	  "SELECT source_status AS reason, count(*) AS contacts"
	  " FROM contacts WHERE vanished = 0 AND source_status IS NOT NULL"
	  " AND state = 'skipped' GROUP BY 1 UNION ALL"
	  " SELECT 'unconfirmed', count(*) FROM contacts WHERE vanished = 0"
	  " AND unconfirmed <> 0 AND source_status IS NULL"
	  " AND state = 'skipped' HAVING count(*) > 0)"
	  " ORDER BY 2 DESC, 1 LIMIT ?2",
	[STORE_PAGES_REJECT_REASONS] =
	  "SELECT r.reason AS reason, count(*) AS n"
	  " FROM rejects r WHERE r.input_id IN"
	  " (SELECT id FROM inputs WHERE gen = ?1)"
	  " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?2",
	[STORE_PAGES_REJECTS] =
	  "SELECT i.path, r.line, r.email, r.reason, r.detail"
	  " FROM rejects r JOIN inputs i ON i.id = r.input_id"
	  " WHERE i.gen = ?1 ORDER BY r.input_id, r.line, r.id LIMIT ?2",
	[STORE_PAGES_FAILURES] =
	  "SELECT http_status, error, count(*) FROM contacts NOT INDEXED"
	  " WHERE vanished = 0 AND state = 'failed'"
	  " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT ?2",
	[STORE_PAGES_FAILED] =
	  "SELECT email, http_status, error FROM contacts NOT INDEXED"
	  " WHERE vanished = 0 AND state = 'failed' ORDER BY id LIMIT ?2",
	[STORE_PAGES_INPUTS] =
	  "SELECT gen, path, size, sha256, rows_read, rejected, duplicates,"
	  " preset, kind, delimiter, complete, staged_at, error"
	  " FROM inputs ORDER BY id DESC LIMIT ?2",
	/* What a run did, from its summary (cmd/meisa-bulk.c's end_run). */
	[STORE_PAGES_RUNS] =
	  "SELECT id, kind, started_at, ended_at,"
	  " CAST(round((julianday(ended_at) - julianday(started_at))"
	  " * 86400) AS INTEGER), exit_status, args,"
	  " s ->> '$.stage.files_staged', s ->> '$.stage.rows_read',"
	  " s ->> '$.stage.contacts_new', s ->> '$.stage.contacts_updated',"
	  " s ->> '$.push.requests', s ->> '$.push.upserted',"
	  " s ->> '$.push.failed', s ->> '$.push.chunks',"
	  " s ->> '$.push.dry_run'"
	  " FROM (SELECT *, CASE WHEN json_valid(summary) THEN summary END"
	  " AS s FROM runs) ORDER BY id DESC LIMIT ?2",
	[STORE_PAGES_SENDS] =
	  "SELECT t_ms FROM sends ORDER BY t_ms",
	[STORE_PAGES_ACKED] =
	  "SELECT acked_at FROM contacts NOT INDEXED"
	  " WHERE acked_at IS NOT NULL",
};

#define NKINDS (sizeof(kind_sql) / sizeof(kind_sql[0]))

enum mb_rc store_pages_open(struct store_pages *pg, struct db *db,
			    enum store_pages_kind kind, int64_t gen,
			    int64_t limit, struct err *e)
{
	enum mb_rc rc;
	int ncol;

	pg->db = db;
	if ((unsigned)kind >= NKINDS)
		return err_set(e, MB_EINTERNAL, "unknown report rows %d",
			       (int)kind);
	rc = db_prepare(db, &pg->stmt, kind_sql[kind], e);
	if (rc != MB_OK)
		return rc;
	ncol = sqlite3_column_count(pg->stmt);
	if (ncol > STORE_PAGES_COLUMNS_MAX)
		return err_set(e, MB_EINTERNAL, "too many report columns");
	pg->ncells = (size_t)ncol;
	/* Binding a parameter a statement lacks is a harmless SQLITE_RANGE. */
	sqlite3_bind_int64(pg->stmt, 1, gen);
	sqlite3_bind_int64(pg->stmt, 2, limit);
	return MB_OK;
}

enum mb_rc store_pages_next(struct store_pages *pg,
			    struct store_page_row *row, struct err *e)
{
	int step = sqlite3_step(pg->stmt);
	size_t i;

	if (step == SQLITE_DONE) {
		row->done = 1;
		return MB_OK;
	}
	if (step != SQLITE_ROW)
		return db_fail(pg->db, "cannot read report of", e);
	for (i = 0; i < pg->ncells; i++)
		pg->cells[i] = (const char *)sqlite3_column_text(pg->stmt,
								 (int)i);
	row->done = 0;
	row->ncells = pg->ncells;
	row->cells = pg->cells;
	return MB_OK;
}

void store_pages_close(struct store_pages *pg)
{
	size_t i;

	if (!pg)
		return;
	sqlite3_finalize(pg->stmt);
	pg->stmt = NULL;
	pg->db = NULL;
	for (i = 0; i < pg->ncells; i++)
		pg->cells[i] = NULL;
	pg->ncells = 0;
}
