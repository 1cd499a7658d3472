/*
 * store_report: the queries behind status, each prepared, stepped and
 * checked here.
 */
#include "store_report.h"

enum mb_rc store_report_generations(struct db *db, int64_t *latest,
				    int64_t *previous, struct err *e)
{
	int64_t gen = 0, before = 0;
	enum mb_rc rc;

	rc = db_int(db, "SELECT coalesce(max(id), 0) FROM generations", &gen,
		    e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT coalesce(max(id), 0) FROM generations"
			    " WHERE id < (SELECT max(id) FROM generations)",
			    &before, e);
	if (rc == MB_OK) {
		*latest = gen;
		*previous = before;
	}
	return rc;
}

/*
 * Counting.  One pass over the contacts of the latest generation (?1) and
 * the one before (?2) counts the states; everything else comes from
 * indexes, in one query.  The states have no index (schema 3 in db.c says
 * why), and the pass tallies in C: eight conditional SQL sums cost 0.55 s
 * a million contacts, stepping four columns and comparing here 0.15 s.
 * The flags few contacts carry are counted from partial indexes, whose
 * WHERE clauses are repeated here word for word (SQLite uses a partial
 * index only for a query whose WHERE contains the index's).
 *
 * A contact is suppressed when the source says do-not-email or Meisa's
 * unsubscribed list holds it (CROSS JOIN: SQLite's planner, without
 * statistics, would probe the list once per contact; the list is empty
 * before a push and usually far shorter than the contacts, so its side
 * leads); 'sent' (in flight when a run stopped) counts as pending.  Cleared
 * fields of skipped contacts are not counted: nothing of theirs is sent.
 */
static const char pass_sql[] =
	"SELECT CASE WHEN vanished THEN gen ELSE ?1 END, state, acked_gen,"
	" enroll_status, enroll_status NOT IN (" STATUS_ENROLL_KNOWN ")"
	" FROM contacts NOT INDEXED WHERE vanished = 0 OR gen = ?2";

/* The columns are the fields store_report_indexed fills, in its order. */
const char store_report_indexed_sql[] =
	"SELECT"
	" (SELECT coalesce(sum(rows_read), 0) FROM inputs WHERE gen = ?1),"
	" (SELECT count(*) FROM rejects WHERE input_id IN"
	"  (SELECT id FROM inputs WHERE gen = ?1)),"
	" (SELECT count(*) FROM duplicates WHERE input_id IN"
	"  (SELECT id FROM inputs WHERE gen = ?1)),"
	" (SELECT count(*) FROM contacts WHERE vanished = 0"
	"  AND source_status IS NOT NULL)"
	" + (SELECT count(*) FROM unsubscribed u CROSS JOIN contacts c"
	"  ON c.email = u.email WHERE c.vanished = 0"
	"  AND c.source_status IS NULL),"
	" (SELECT count(*) FROM contacts WHERE vanished = 0"
	"  AND unconfirmed <> 0),"
	" (SELECT count(*) FROM unsubscribed u CROSS JOIN contacts c"
	"  ON c.email = u.email WHERE c.vanished = 0),"
	" (SELECT count(*) FROM chunks),"
	" (SELECT count(*) FROM chunks WHERE state = 'acknowledged'),"
	" (SELECT coalesce(sum(json_array_length(cleared)), 0) FROM contacts"
	"  WHERE vanished = 0 AND cleared IS NOT NULL AND state <> 'skipped')";

enum mb_rc store_pass_open(struct store_pass *p, struct db *db, int64_t gen,
			   int64_t previous, struct err *e)
{
	enum mb_rc rc;

	p->db = db;
	rc = db_prepare(db, &p->stmt, pass_sql, e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(p->stmt, 1, gen);
	/* No generation before: ?2 = ?1 adds no row. */
	sqlite3_bind_int64(p->stmt, 2, previous > 0 ? previous : gen);
	return MB_OK;
}

enum mb_rc store_pass_next(struct store_pass *p, struct store_pass_row *row,
			   struct err *e)
{
	sqlite3_stmt *s = p->stmt;
	int step = sqlite3_step(s);

	if (step == SQLITE_DONE) {
		row->done = 1;
		return MB_OK;
	}
	if (step != SQLITE_ROW)
		return db_fail(p->db, "cannot read status of", e);
	row->done = 0;
	row->gen = sqlite3_column_int64(s, 0);
	row->state = (const char *)sqlite3_column_text(s, 1);
	row->has_acked_gen = sqlite3_column_type(s, 2) != SQLITE_NULL;
	row->acked_gen = sqlite3_column_int64(s, 2);
	row->enroll_status = (const char *)sqlite3_column_text(s, 3);
	row->enroll_unknown = sqlite3_column_int(s, 4);
	return MB_OK;
}

void store_pass_close(struct store_pass *p)
{
	if (!p)
		return;
	sqlite3_finalize(p->stmt);
	p->stmt = NULL;
	p->db = NULL;
}

enum mb_rc store_report_indexed(struct db *db, int64_t gen,
				struct status_counts *c, struct err *e)
{
	int64_t *fields[] = {
		&c->rows_read, &c->rejected, &c->duplicates, &c->suppressed,
		&c->unconfirmed, &c->meisa_unsubscribed, &c->chunks,
		&c->chunks_acknowledged, &c->cleared_fields,
	};
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;
	size_t i;

	rc = db_prepare(db, &s, store_report_indexed_sql, e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, gen);
	if (sqlite3_step(s) == SQLITE_ROW) {
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			*fields[i] = sqlite3_column_int64(s, (int)i);
	} else {
		rc = db_fail(db, "cannot read status of", e);
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Kept apart from the indexed counts: how requests are counted is push's
 * business and may change without touching them.
 */
enum mb_rc store_report_requests(struct db *db, int64_t *requests,
				 struct err *e)
{
	return db_int(db, "SELECT CAST(value AS INTEGER) FROM meta"
		      " WHERE key = 'requests'", requests, e);
}

/* One run as a JSON object; the FROM must name runs r. */
#define RUN_OBJECT_SQL \
	"json_object('id', r.id, 'kind', r.kind, 'started_at', r.started_at," \
	" 'ended_at', r.ended_at, 'args', r.args, 'exit_status'," \
	" r.exit_status, 'summary', CASE WHEN json_valid(r.summary)" \
	" THEN json(r.summary) ELSE r.summary END, 'inputs', (SELECT" \
	" json_group_array(json_object('path', path, 'size', size," \
	" 'sha256', sha256, 'generation', gen, 'rows_read', rows_read," \
	" 'complete', complete)) FROM (SELECT * FROM inputs" \
	" WHERE run_id = r.id ORDER BY id)))"

/*
 * The text value of a query with no parameters into out; out is empty when
 * there is no row or the value is NULL.
 */
static enum mb_rc query_text(struct db *db, const char *sql,
			     struct buf *out, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;
	int step;

	rc = db_prepare(db, &s, sql, e);
	if (rc != MB_OK)
		return rc;
	buf_reset(out);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		if (sqlite3_column_type(s, 0) != SQLITE_NULL)
			rc = buf_set(out, sqlite3_column_text(s, 0),
				     (size_t)sqlite3_column_bytes(s, 0));
	} else if (step != SQLITE_DONE) {
		rc = db_fail(db, "cannot read status of", e);
	}
	sqlite3_finalize(s);
	return rc;
}

enum mb_rc store_report_runs_json(struct db *db, struct buf *out,
				  struct err *e)
{
	return query_text(db, "SELECT json_group_array(json(o)) FROM (SELECT "
			  RUN_OBJECT_SQL " AS o FROM runs r ORDER BY r.id)",
			  out, e);
}

enum mb_rc store_report_last_run_json(struct db *db, struct buf *out,
				      struct err *e)
{
	return query_text(db, "SELECT " RUN_OBJECT_SQL " FROM runs r"
			  " ORDER BY r.id DESC LIMIT 1", out, e);
}

static const char status_object_sql[] =
	"SELECT json_object("
	"'rows_read', ?1, 'rejected', ?2, 'duplicates', ?3,"
	" 'contacts', ?4, 'suppressed', ?5, 'skipped', ?6,"
	" 'upserted', ?7, 'failed', ?8, 'pending', ?9,"
	" 'enrolled', ?10, 'requests', ?11, 'unconfirmed', ?12,"
	" 'meisa_unsubscribed', ?13, 'chunks', ?14,"
	" 'chunks_acknowledged', ?15, 'generation', ?16,"
	" 'unchanged', ?17, 'missing', ?18,"
	" 'cleared_fields_not_sent', ?19,"
	" 'enroll_unknown', ?23,"
	" 'unsubscribed_as_of', nullif(?20, ''),"
	" 'staging_file', ?21, 'last_run', json(?22))";

/* The counts, as ?1 to ?19 and ?23 of status_object_sql. */
static void bind_counts(sqlite3_stmt *s, const struct status_counts *cp)
{
	const struct status_counts c = *cp;
	int64_t v[] = { c.rows_read, c.rejected, c.duplicates,
		c.contacts, c.suppressed, c.skipped, c.upserted,
		c.failed, c.pending, c.enrolled, c.requests,
		c.unconfirmed, c.meisa_unsubscribed, c.chunks,
		c.chunks_acknowledged, c.generation, c.unchanged,
		c.missing, c.cleared_fields };
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		sqlite3_bind_int64(s, (int)i + 1, v[i]);
	sqlite3_bind_int64(s, 23, c.enroll_unknown);
}

enum mb_rc store_report_status_json(struct db *db,
				    const struct status_counts *c,
				    const char *as_of, const char *last_run,
				    struct buf *out, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_prepare(db, &s, status_object_sql, e);
	if (rc != MB_OK)
		return rc;
	bind_counts(s, c);
	sqlite3_bind_text(s, 20, as_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 21, db->path, -1, SQLITE_STATIC);
	if (last_run[0])
		sqlite3_bind_text(s, 22, last_run, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = buf_set(out, sqlite3_column_text(s, 0),
			     (size_t)sqlite3_column_bytes(s, 0));
	else
		rc = db_fail(db, "cannot read status of", e);
	sqlite3_finalize(s);
	return rc;
}
