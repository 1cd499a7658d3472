/*
 * status: counts from the staging file's tables.
 */
#include "status.h"

#include <string.h>

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
static const char status_pass_sql[] =
	"SELECT gen, state, acked_gen, enroll_status, enroll_status NOT IN ("
	STATUS_ENROLL_KNOWN ") FROM contacts NOT INDEXED"
	" WHERE gen = ?1 OR gen = ?2";

/* The columns are the fields of struct status_counts they name, in order. */
const char status_counts_sql[] =
	"SELECT"
	" (SELECT coalesce(sum(rows_read), 0) FROM inputs WHERE gen = ?1),"
	" (SELECT count(*) FROM rejects WHERE input_id IN"
	"  (SELECT id FROM inputs WHERE gen = ?1)),"
	" (SELECT count(*) FROM duplicates WHERE input_id IN"
	"  (SELECT id FROM inputs WHERE gen = ?1)),"
	" (SELECT count(*) FROM contacts WHERE gen = ?1"
	"  AND source_status IS NOT NULL)"
	" + (SELECT count(*) FROM unsubscribed u CROSS JOIN contacts c"
	"  ON c.email = u.email WHERE c.gen = ?1"
	"  AND c.source_status IS NULL),"
	" (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'requests'),"
	" (SELECT count(*) FROM contacts WHERE gen = ?1 AND unconfirmed <> 0),"
	" (SELECT count(*) FROM unsubscribed u CROSS JOIN contacts c"
	"  ON c.email = u.email WHERE c.gen = ?1),"
	" (SELECT count(*) FROM chunks),"
	" (SELECT count(*) FROM chunks WHERE state = 'acknowledged'),"
	" (SELECT coalesce(sum(json_array_length(cleared)), 0) FROM contacts"
	"  WHERE gen = ?1 AND cleared IS NOT NULL AND state <> 'skipped')";

/* One row of the pass into c. */
static void tally(sqlite3_stmt *s, int64_t gen, struct status_counts *c)
{
	const char *state = (const char *)sqlite3_column_text(s, 1);
	const char *enroll;

	if (sqlite3_column_int64(s, 0) != gen) {
		c->missing++;
		return;
	}
	c->contacts++;
	switch (state ? state[0] : 0) {
	case 'u':
		c->upserted++;
		if (sqlite3_column_type(s, 2) != SQLITE_NULL &&
		    sqlite3_column_int64(s, 2) < gen)
			c->unchanged++;
		break;
	case 'f':
		c->failed++;
		break;
	case 's':  /* skipped or sent */
		if (state[1] == 'k')
			c->skipped++;
		else
			c->pending++;
		break;
	default:   /* pending: the CHECK constraint allows nothing else */
		c->pending++;
		break;
	}
	enroll = (const char *)sqlite3_column_text(s, 3);
	if (enroll && (strcmp(enroll, "enrolled") == 0 ||
		       strcmp(enroll, "already_enrolled") == 0 ||
		       strcmp(enroll, "acknowledged") == 0))
		c->enrolled++;
	if (sqlite3_column_int(s, 4))
		c->enroll_unknown++;
}

/* The pass: the states of the latest generation, and how many are missing. */
static enum mb_rc count_pass(struct db *db, int64_t gen, int64_t previous,
			     struct status_counts *c, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;
	int step;

	rc = db_prepare(db, &s, status_pass_sql, e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, gen);
	/* No generation before: ?2 = ?1 adds no row. */
	sqlite3_bind_int64(s, 2, previous > 0 ? previous : gen);
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		tally(s, gen, c);
	if (step != SQLITE_DONE)
		rc = db_fail(db, "cannot read status of", e);
	sqlite3_finalize(s);
	return rc;
}

enum mb_rc status_load(struct db *db, struct status_counts *c,
		       struct err *e)
{
	int64_t *fields[] = {
		&c->rows_read, &c->rejected, &c->duplicates, &c->suppressed,
		&c->requests, &c->unconfirmed, &c->meisa_unsubscribed,
		&c->chunks, &c->chunks_acknowledged, &c->cleared_fields,
	};
	int64_t gen = 0, previous = 0;
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;
	size_t i;

	memset(c, 0, sizeof(*c));
	rc = db_int(db, "SELECT coalesce(max(id), 0) FROM generations", &gen,
		    e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT coalesce(max(id), 0) FROM generations"
			    " WHERE id < (SELECT max(id) FROM generations)",
			    &previous, e);
	if (rc == MB_OK)
		rc = count_pass(db, gen, previous, c, e);
	if (rc == MB_OK)
		rc = db_prepare(db, &s, status_counts_sql, e);
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
	c->generation = gen;
	return rc;
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

enum mb_rc status_runs_json(struct db *db, struct buf *out, struct err *e)
{
	return query_text(db, "SELECT json_group_array(json(o)) FROM (SELECT "
			  RUN_OBJECT_SQL " AS o FROM runs r ORDER BY r.id)",
			  out, e);
}

enum mb_rc status_json(struct db *db, struct buf *out, struct err *e)
{
	struct status_counts c;
	enum mb_rc rc;

	rc = status_load(db, &c, e);
	if (rc == MB_OK)
		rc = status_json_of(db, &c, out, e);
	return rc;
}

enum mb_rc status_json_of(struct db *db, const struct status_counts *cp,
			  struct buf *out, struct err *e)
{
	const struct status_counts c = *cp;
	sqlite3_stmt *s = NULL;
	struct buf as_of = BUF_INIT, last = BUF_INIT;
	enum mb_rc rc;

	rc = db_meta_get(db, "unsubscribed_as_of", &as_of, e);
	if (rc == MB_OK)
		rc = query_text(db, "SELECT " RUN_OBJECT_SQL " FROM runs r"
				" ORDER BY r.id DESC LIMIT 1", &last, e);
	if (rc == MB_OK)
		rc = db_prepare(db, &s, "SELECT json_object("
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
			" 'staging_file', ?21, 'last_run', json(?22))", e);
	if (rc == MB_OK) {
		int64_t v[] = { c.rows_read, c.rejected, c.duplicates,
			c.contacts, c.suppressed, c.skipped, c.upserted,
			c.failed, c.pending, c.enrolled, c.requests,
			c.unconfirmed, c.meisa_unsubscribed, c.chunks,
			c.chunks_acknowledged, c.generation, c.unchanged,
			c.missing, c.cleared_fields };
		size_t i;

		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
			sqlite3_bind_int64(s, (int)i + 1, v[i]);
		sqlite3_bind_text(s, 20, buf_str(&as_of), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 21, db->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 23, c.enroll_unknown);
		if (last.len)
			sqlite3_bind_text(s, 22, last.data, (int)last.len,
					  SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			rc = buf_set(out, sqlite3_column_text(s, 0),
				     (size_t)sqlite3_column_bytes(s, 0));
		else
			rc = db_fail(db, "cannot read status of", e);
	}
	sqlite3_finalize(s);
	buf_release(&as_of);
	buf_release(&last);
	return rc;
}
