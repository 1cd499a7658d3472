/*
 * store_inputs: inputs, generations and the transactions of a file; see
 * store_inputs.h.  The statements and the comments that say why moved here
 * from stage.c unchanged.
 */
#include "store_inputs.h"

#include <sqlite3.h>

static void bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

/*
 * Staging speed.  A file is one transaction, so a crash mid-file
 * commits nothing of it and staging it again is right: durability of
 * the middle of a file buys nothing.  In WAL mode every page of that
 * big transaction would be written twice (to the WAL, then by the
 * checkpoint); with a rollback journal new pages are written once and
 * only pre-existing pages are journalled.  We hold the run lock; a
 * reader (status during the run) may have to wait for the file's
 * commit, which is the honest answer anyway.  A 32 MiB
 * page cache holds the email index's hot pages for a million rows
 * (measured: 10% less CPU than 16 MiB; peak RSS stays under 64 MB).
 */
enum mb_rc store_inputs_bulk_begin(struct db *db, struct err *e)
{
	return db_exec(db, "PRAGMA journal_mode=DELETE;"
		       " PRAGMA synchronous=OFF;"
		       " PRAGMA cache_size=-32768;", e);
}

void store_inputs_bulk_end(struct db *db)
{
	/* Back to WAL whatever happened: push relies on it. */
	db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
		NULL);
}

/*
 * A file's transaction.  The members of one zip share one (stage's zip_end
 * commits it after the archive's last member), each member a savepoint in
 * it, so that a member refused as a whole is still undone alone: a commit
 * per member wrote some twenty pages each (a zip of 3,000 one-row members
 * took 4 s, most of it writing).  A crash or a stop mid-archive keeps
 * nothing of the archive; staging it again is right, as for a file.
 */
enum mb_rc store_inputs_begin(struct db *db, int member, struct err *e)
{
	enum mb_rc rc = MB_OK;

	if (!member)
		return db_begin(db, e);
	if (sqlite3_get_autocommit(db->sql))
		rc = db_begin(db, e);
	if (rc == MB_OK)
		rc = db_exec(db, "SAVEPOINT member", e);
	return rc;
}

enum mb_rc store_inputs_commit(struct db *db, int member, struct err *e)
{
	return db_exec(db, member ? "RELEASE member" : "COMMIT", e);
}

void store_inputs_rollback(struct db *db, int member)
{
	if (!member)
		db_rollback(db);
	else if (!sqlite3_get_autocommit(db->sql))
		db_exec(db, "ROLLBACK TO member; RELEASE member", NULL);
}

enum mb_rc store_inputs_archive_commit(struct db *db, struct err *e)
{
	if (sqlite3_get_autocommit(db->sql))
		return MB_OK;
	return db_commit(db, e);
}

/*
 * Open a new generation (inside the first file's transaction, so a file
 * that is refused leaves none behind).  Enrollments that failed in earlier
 * generations are tried again in this one.
 */
enum mb_rc store_inputs_gen_open(struct db *db, int64_t run_id,
				 int64_t *gen, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int64_t failed = 0, id;
	char now[32];
	enum mb_rc rc;

	db_now_iso(now, sizeof(now));
	rc = db_prepare(db, &s, "INSERT INTO generations(run_id,"
			" started_at) VALUES(nullif(?, 0), ?)", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(db, "cannot record generation in", e);
	sqlite3_finalize(s);
	id = sqlite3_last_insert_rowid(db->sql);
	/* A failed chunk marks its contacts; the scan is for that case. */
	if (rc == MB_OK)
		rc = db_int(db, "SELECT EXISTS (SELECT 1 FROM chunks WHERE"
			    " state = 'failed')", &failed, e);
	if (rc == MB_OK && failed)
		rc = db_exec(db, "UPDATE contacts SET chunk_id = NULL,"
			     " enroll_status = NULL WHERE enroll_status ="
			     " 'failed'", e);
	if (rc == MB_OK)
		*gen = id;
	return rc;
}

enum mb_rc store_inputs_add(struct db *db, const char *path, int64_t run_id,
			    int64_t gen, int64_t *id, struct err *e)
{
	sqlite3_stmt *s = NULL;
	char now[32];
	enum mb_rc rc;

	db_now_iso(now, sizeof(now));
	rc = db_prepare(db, &s, "INSERT INTO inputs(path, staged_at,"
			" run_id, gen) VALUES(?, ?, nullif(?, 0), ?)", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, run_id);
	sqlite3_bind_int64(s, 4, gen);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(db, "cannot record input in", e);
	sqlite3_finalize(s);
	if (rc == MB_OK)
		*id = sqlite3_last_insert_rowid(db->sql);
	return rc;
}

enum mb_rc store_inputs_end(struct db *db, int64_t id,
			    const struct store_input_end *end, struct err *e)
{
	sqlite3_stmt *s = NULL;
	char delim[2] = { end->delimiter, '\0' };
	enum mb_rc rc;

	rc = db_prepare(db, &s, "UPDATE inputs SET kind = ?1, preset = ?2,"
			" delimiter = ?3, rows_read = ?4, complete = ?5,"
			" error = ?6, size = ?8, sha256 = ?9,"
			" rejected = (SELECT count(*) FROM rejects"
			"  WHERE input_id = inputs.id),"
			" duplicates = (SELECT count(*) FROM duplicates"
			"  WHERE input_id = inputs.id) WHERE id = ?7", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, end->kind, -1, SQLITE_STATIC);
	bind_text(s, 2, end->preset);
	bind_text(s, 3, end->delimiter ? delim : NULL);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)end->rows_read);
	sqlite3_bind_int(s, 5, end->complete);
	bind_text(s, 6, end->complete ? NULL : end->error);
	sqlite3_bind_int64(s, 7, id);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)end->size);
	sqlite3_bind_text(s, 9, end->sha256, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(db, "cannot record input in", e);
	sqlite3_finalize(s);
	return rc;
}

/* Step a statement that answers with a row or none into *found. */
static enum mb_rc step_found(struct db *db, sqlite3_stmt *s, int *found,
			     struct err *e)
{
	int step = sqlite3_step(s);

	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return db_fail(db, "cannot read", e);
	*found = step == SQLITE_ROW;
	return MB_OK;
}

enum mb_rc store_inputs_size_seen(struct db *db, int64_t gen, uint64_t size,
				  int *found, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_prepare(db, &s, "SELECT 1 FROM inputs WHERE gen = ? AND"
			" size = ?", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, gen);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
	rc = step_found(db, s, found, e);
	sqlite3_finalize(s);
	return rc;
}

/*
 * A file with these bytes (size, SHA-256) is among generation gen's
 * inputs.  The size lets the lookup use the index on (gen, size): by the
 * hash alone it scanned every input of the generation, twice per input
 * (quadratic in the members of a zip).
 */
enum mb_rc store_inputs_find(struct db *db, int64_t gen, uint64_t size,
			     const char *sha256, int *found, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_prepare(db, &s, "SELECT 1 FROM inputs WHERE gen = ?1 AND"
			" size = ?3 AND sha256 = ?2", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, gen);
	sqlite3_bind_text(s, 2, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)size);
	rc = step_found(db, s, found, e);
	sqlite3_finalize(s);
	return rc;
}
