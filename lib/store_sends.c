/*
 * store_sends: send times and reserved slots, each statement checked here.
 */
#include "store_sends.h"

#include <stdio.h>

enum mb_rc store_sends_open(struct store_sends *s, struct db *db,
			    struct err *e)
{
	s->db = db;
	return db_prepare(db, &s->insert, "INSERT INTO sends(t_ms) VALUES(?)",
			  e);
}

void store_sends_close(struct store_sends *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->insert);
	s->insert = NULL;
	s->db = NULL;
}

enum mb_rc store_sends_each(struct store_sends *s, int64_t since_ms,
			    void (*fn)(void *ctx, int64_t t_ms), void *ctx,
			    struct err *e)
{
	sqlite3_stmt *q = NULL;
	enum mb_rc rc;
	int step;

	rc = db_prepare(s->db, &q, "SELECT t_ms FROM sends WHERE t_ms >= ?"
			" ORDER BY t_ms", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(q, 1, since_ms);
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(q, 0));
	if (step != SQLITE_DONE)
		rc = db_fail(s->db, "cannot read send times from", e);
	sqlite3_finalize(q);
	return rc;
}

enum mb_rc store_sends_record(struct store_sends *s, const int64_t *t_ms,
			      size_t n, size_t uncounted, int64_t keep_ms,
			      struct err *e)
{
	enum mb_rc rc = MB_OK;
	char sql[160];
	size_t i;

	for (i = 0; rc == MB_OK && i < n; i++) {
		sqlite3_bind_int64(s->insert, 1, t_ms[i]);
		if (sqlite3_step(s->insert) != SQLITE_DONE)
			rc = db_fail(s->db, "cannot record request in", e);
		sqlite3_reset(s->insert);
	}
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = CAST(value AS"
		 " INTEGER) + %zu WHERE key = 'requests';"
		 " DELETE FROM sends WHERE t_ms < %lld", uncounted,
		 (long long)keep_ms);
	if (rc == MB_OK)
		rc = db_exec(s->db, sql, e);
	return rc;
}

enum mb_rc store_sends_reserve(struct store_sends *s, int64_t stamp_ms,
			       size_t n, struct err *e)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
		 " SELECT i + 1 FROM n WHERE i < %zu) INSERT INTO sends(t_ms)"
		 " SELECT %lld FROM n; UPDATE meta SET value = CAST(value AS"
		 " INTEGER) + %zu WHERE key = 'requests'", n,
		 (long long)stamp_ms, n);
	return db_exec(s->db, sql, e);
}

enum mb_rc store_sends_drop(struct store_sends *s, int64_t stamp_ms,
			    size_t n, int uncount, struct err *e)
{
	char sql[256];

	if (!n)
		return MB_OK;
	snprintf(sql, sizeof(sql), "DELETE FROM sends WHERE rowid IN (SELECT"
		 " rowid FROM sends WHERE t_ms = %lld LIMIT %zu);"
		 " UPDATE meta SET value = CAST(value AS INTEGER) - %zu"
		 " WHERE key = 'requests'", (long long)stamp_ms, n,
		 uncount ? n : 0);
	return db_exec(s->db, sql, e);
}
