/*
 * test_status: status_load's counts (one pass for the states, indexes for
 * the rest) against the plain scan that defines them, on a staging file
 * holding every combination of state and flag; and proof that only the
 * pass walks the contacts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "status.h"
#include "tmpdir.h"

static char path[128];

static void setup(void)
{
	tmpdir_make();
	snprintf(path, sizeof(path), "%s", tmpdir_path("stage.db"));
}

TestSuite(status, .init = setup, .fini = tmpdir_remove);

/*
 * The definition: one pass over the generation's contacts (what status
 * did before schema 3).  ?1 the latest generation, ?2 the one before.
 */
static const char oracle_sql[] =
	"SELECT count(*),"
	" coalesce(sum(source_status IS NOT NULL OR u.email IS NOT NULL), 0),"
	" coalesce(sum(state = 'skipped'), 0),"
	" coalesce(sum(state = 'upserted'), 0),"
	" coalesce(sum(state = 'failed'), 0),"
	" coalesce(sum(state IN ('pending', 'sent')), 0),"
	" coalesce(sum(enroll_status IN ('enrolled', 'already_enrolled',"
	"   'acknowledged')), 0),"
	" coalesce(sum(unconfirmed), 0),"
	" coalesce(sum(u.email IS NOT NULL), 0),"
	" coalesce(sum(state = 'upserted' AND acked_gen < gen), 0),"
	" (SELECT count(*) FROM contacts WHERE ?2 > 0 AND gen = ?2),"
	" coalesce(sum(CASE WHEN cleared IS NOT NULL AND state <> 'skipped'"
	"  THEN json_array_length(cleared) END), 0),"
	" coalesce(sum(enroll_status IS NOT NULL AND enroll_status NOT IN"
	"  ('enrolled', 'already_enrolled', 'suppressed', 'invalid_email',"
	"   'acknowledged', 'failed')), 0)"
	" FROM contacts NOT INDEXED LEFT JOIN unsubscribed u"
	" ON u.email = contacts.email WHERE contacts.gen = ?1";

static void exec(struct db *db, const char *sql)
{
	struct err e = ERR_INIT;

	cr_assert_eq(db_exec(db, sql, &e), MB_OK, "%s: %s", sql, e.msg);
}

/* A small deterministic generator (xorshift64). */
static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * n contacts spread over generations 1..3 with every state, source
 * status, enroll status, unconfirmed flag, acked generation and cleared
 * list; every seventh address is on Meisa's unsubscribed list, and some
 * unsubscribed addresses are not contacts at all.
 */
static void fill(struct db *db, int n, uint64_t seed)
{
	static const char *const states[] = { "pending", "sent", "upserted",
		"failed", "skipped" };
	static const char *const enroll[] = { NULL, "enrolled",
		"already_enrolled", "acknowledged", "failed", "not_found",
		"suppressed", "missing_from_answer" };
	static const char *const cleared[] = { NULL, "[\"a\"]",
		"[\"a\",\"b\",\"c\"]" };
	sqlite3_stmt *s;
	uint64_t x = seed;
	int i;

	exec(db, "INSERT INTO generations(id, started_at) VALUES"
	     " (1, 't'), (2, 't'), (3, 't');"
	     "INSERT INTO inputs(id, path, gen, rows_read) VALUES"
	     " (1, 'a.csv', 3, 10)");
	cr_assert_eq(sqlite3_prepare_v2(db->sql, "INSERT INTO contacts(email,"
		     " body, input_id, line, gen, state, source_status,"
		     " enroll_status, unconfirmed, acked_gen, cleared)"
		     " VALUES(?, '{}', 1, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &s,
		     NULL), SQLITE_OK);
	for (i = 0; i < n; i++) {
		char email[32];
		int gen = 1 + (int)(next(&x) % 3);
		const char *state = states[next(&x) % 5];
		int acked = (int)(next(&x) % 4);   /* 0: never acked */

		snprintf(email, sizeof(email), "c%d@example.com", i);
		sqlite3_bind_text(s, 1, email, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(s, 2, i + 2);
		sqlite3_bind_int(s, 3, gen);
		sqlite3_bind_text(s, 4, state, -1, SQLITE_STATIC);
		if (strcmp(state, "skipped") == 0 || next(&x) % 9 == 0)
			sqlite3_bind_text(s, 5, next(&x) % 2 ? "unsubscribed"
					  : "cleaned", -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(s, 5);
		sqlite3_bind_text(s, 6, enroll[next(&x) % 8], -1,
				  SQLITE_STATIC);
		sqlite3_bind_int(s, 7, next(&x) % 5 == 0);
		if (acked)
			sqlite3_bind_int(s, 8, acked);
		else
			sqlite3_bind_null(s, 8);
		sqlite3_bind_text(s, 9, cleared[next(&x) % 3], -1,
				  SQLITE_STATIC);
		cr_assert_eq(sqlite3_step(s), SQLITE_DONE, "%s",
			     sqlite3_errmsg(db->sql));
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	exec(db, "INSERT INTO unsubscribed SELECT email FROM contacts"
	     " WHERE id % 7 = 0;"
	     "INSERT INTO unsubscribed VALUES ('stranger@example.com'),"
	     " ('other@example.com');");
	/* Schema 4 (db.h): what is not in the latest generation vanished. */
	exec(db, "UPDATE contacts SET vanished = 1 WHERE gen < 3");
}

/*
 * Schema 4 leaves an unchanged contact's row alone: a contact of the
 * latest generation may hold the older generation that last wrote it.
 * After the oracle (which reads gen as schema 3 defined it), before status.
 */
static void stale_rows(struct db *db)
{
	exec(db, "UPDATE contacts SET gen = 1 + id % 2 WHERE vanished = 0"
	     " AND id % 3 = 0");
}

static void check_against_oracle(struct db *db)
{
	struct status_counts c;
	struct err e = ERR_INIT;
	sqlite3_stmt *s;
	int64_t want[13];
	int64_t got[13];
	size_t i;

	cr_assert_eq(sqlite3_prepare_v2(db->sql, oracle_sql, -1, &s, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(db->sql));
	sqlite3_bind_int64(s, 1, 3);
	sqlite3_bind_int64(s, 2, 2);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	for (i = 0; i < 13; i++)
		want[i] = sqlite3_column_int64(s, (int)i);
	sqlite3_finalize(s);
	stale_rows(db);
	cr_assert_eq(status_load(db, &c, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(c.generation, 3);
	got[0] = c.contacts;
	got[1] = c.suppressed;
	got[2] = c.skipped;
	got[3] = c.upserted;
	got[4] = c.failed;
	got[5] = c.pending;
	got[6] = c.enrolled;
	got[7] = c.unconfirmed;
	got[8] = c.meisa_unsubscribed;
	got[9] = c.unchanged;
	got[10] = c.missing;
	got[11] = c.cleared_fields;
	got[12] = c.enroll_unknown;
	for (i = 0; i < 13; i++)
		cr_expect_eq(got[i], want[i], "field %zu: %lld, want %lld", i,
			     (long long)got[i], (long long)want[i]);
	cr_assert_eq(c.contacts, c.upserted + c.failed + c.pending +
		     c.skipped);
}

Test(status, counts_equal_the_scan_that_defines_them)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	uint64_t seeds[] = { 0x9e3779b97f4a7c15ull, 42, 7777 };
	size_t i;

	cr_assert_eq(db_open(&db, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		exec(&db, "DELETE FROM contacts; DELETE FROM unsubscribed;"
		     " DELETE FROM generations; DELETE FROM inputs;");
		fill(&db, 3000, seeds[i]);
		check_against_oracle(&db);
	}
	db_close(&db);
}

Test(status, empty_file_counts_zero)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct status_counts c;

	cr_assert_eq(db_open(&db, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(status_load(&db, &c, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(c.generation, 0);
	cr_assert_eq(c.contacts + c.suppressed + c.pending + c.missing +
		     c.meisa_unsubscribed + c.cleared_fields, 0);
	db_close(&db);
}

/*
 * Only the pass may walk the contacts table: the flags are counted from
 * partial indexes (which hold only the contacts carrying them) and the
 * unsubscribed list probes contacts by email.  A scan per count cost 0.6 s
 * a million contacts after every stage.
 */
Test(status, counting_does_not_walk_the_contacts)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct buf sql = BUF_INIT;
	sqlite3_stmt *s;
	int lines = 0;

	cr_assert_eq(db_open(&db, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	fill(&db, 300, 99);
	cr_assert_eq(buf_printf(&sql, "EXPLAIN QUERY PLAN %s",
				store_report_indexed_sql), MB_OK);
	cr_assert_eq(sqlite3_prepare_v2(db.sql, sql.data, -1, &s, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(db.sql));
	sqlite3_bind_int(s, 1, 3);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(s, 3);

		if (!strstr(d, "contacts") && !strstr(d, "SEARCH c "))
			continue;
		lines++;
		cr_expect(strncmp(d, "SEARCH ", 7) == 0, "walks: %s", d);
		cr_expect(strstr(d, "USING INDEX contacts_source_status") ||
			  strstr(d, "USING INDEX contacts_unconfirmed") ||
			  strstr(d, "USING INDEX contacts_cleared") ||
			  strstr(d, "USING INDEX contacts_email"
				 " (email=?)"), "reads rows: %s", d);
	}
	sqlite3_finalize(s);
	cr_assert_geq(lines, 5, "%d accesses to contacts", lines);
	buf_release(&sql);
	db_close(&db);
}
