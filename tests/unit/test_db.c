/*
 * test_db: the staging file's creation, protection, lock and versioning.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "tmpdir.h"

static char path[128];

static void setup(void)
{
	tmpdir_make();
	snprintf(path, sizeof(path), "%s", tmpdir_path("stage.db"));
}

TestSuite(db, .init = setup, .fini = tmpdir_remove);

Test(db, created_0600_even_under_umask_000)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct stat st;
	mode_t old = umask(0);

	cr_assert_eq(db_open(&db, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	umask(old);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	db_close(&db);
	cr_assert_null(db.sql);
	cr_assert_null(db.path);
	cr_assert_eq(db.lock_fd, -1);
}

Test(db, existing_mode_refuses_missing_file)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_EDB);
	cr_assert(strstr(e.msg, "does not exist") != NULL, "%s", e.msg);
	cr_assert(access(path, F_OK) != 0, "must not create the file");
}

Test(db, second_open_is_locked)
{
	struct db a = DB_INIT, b = DB_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(db_open(&a, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(db_open(&b, path, DB_EXISTING, &e), MB_ELOCKED);
	cr_assert(strstr(e.msg, "in use by another") != NULL, "%s", e.msg);
	cr_assert_eq(mb_exit_code(MB_ELOCKED), 73);
	db_close(&a);
	cr_assert_eq(db_open(&b, path, DB_EXISTING, &e), MB_OK, "%s", e.msg);
	db_close(&b);
}

Test(db, schema_and_meta)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct buf v = BUF_INIT;
	int64_t n = -1;

	cr_assert_eq(db_open(&db, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(db_int(&db, "PRAGMA user_version", &n, &e), MB_OK);
	cr_assert_eq(n, DB_SCHEMA_VERSION);
	cr_assert_eq(db_meta_get(&db, "requests", &v, &e), MB_OK);
	cr_assert_str_eq(buf_str(&v), "0");
	cr_assert_eq(db_meta_set(&db, "x", "y", &e), MB_OK);
	cr_assert_eq(db_meta_get(&db, "x", &v, &e), MB_OK);
	cr_assert_str_eq(buf_str(&v), "y");
	db_close(&db);
	/* Re-opening keeps everything and does not re-create the schema. */
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(db_meta_get(&db, "x", &v, &e), MB_OK);
	cr_assert_str_eq(buf_str(&v), "y");
	db_close(&db);
	buf_release(&v);
}

Test(db, foreign_sqlite_file_refused)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	sqlite3 *s;

	cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(s, "CREATE TABLE t(x)", NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(s);
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_EDB);
	cr_assert(strstr(e.msg, "not a meisa-bulk staging file") != NULL,
		  "%s", e.msg);
}

Test(db, newer_schema_refused)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	sqlite3 *s;
	char sql[96];

	cr_assert_eq(db_open(&db, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	db_close(&db);
	cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
		 DB_SCHEMA_VERSION + 1);
	cr_assert_eq(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(s);
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_EDB);
	cr_assert(strstr(e.msg, "newer meisa-bulk") != NULL, "%s", e.msg);
}

/* ---- schema 1 -> 2 ------------------------------------------------------ */

/*
 * The schema of version 1 exactly as meisa-bulk 1 wrote it (frozen here:
 * files of that version exist, whatever db.c says today).
 */
static const char v1_schema[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
	"CREATE TABLE runs("
	" id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL,"
	" ended_at TEXT, args TEXT, exit_status INTEGER, summary TEXT);"
	"CREATE TABLE inputs("
	" id INTEGER PRIMARY KEY, run_id INTEGER, path TEXT NOT NULL,"
	" size INTEGER, sha256 TEXT UNIQUE, kind TEXT,"
	" preset TEXT, delimiter TEXT, rows_read INTEGER NOT NULL DEFAULT 0,"
	" rejected INTEGER NOT NULL DEFAULT 0,"
	" duplicates INTEGER NOT NULL DEFAULT 0,"
	" complete INTEGER NOT NULL DEFAULT 0, error TEXT, staged_at TEXT);"
	"CREATE TABLE contacts("
	" id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
	" external_id TEXT, body TEXT NOT NULL, source_status TEXT,"
	" unconfirmed INTEGER NOT NULL DEFAULT 0,"
	" input_id INTEGER NOT NULL, line INTEGER NOT NULL,"
	" merged INTEGER NOT NULL DEFAULT 0,"
	" conflict INTEGER NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL DEFAULT 'pending' CHECK (state = 'pending'"
	"  OR state = 'sent' OR state = 'upserted' OR state = 'failed'"
	"  OR state = 'skipped'),"
	" attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER,"
	" error TEXT, meisa_id TEXT, acked_at TEXT,"
	" chunk_id INTEGER, enroll_status TEXT);"
	"CREATE UNIQUE INDEX contacts_external_id ON contacts(external_id)"
	" WHERE external_id IS NOT NULL;"
	"CREATE TABLE rejects("
	" id INTEGER PRIMARY KEY, input_id INTEGER NOT NULL, line INTEGER,"
	" email TEXT, reason TEXT NOT NULL, detail TEXT);"
	"CREATE TABLE duplicates("
	" id INTEGER PRIMARY KEY, input_id INTEGER NOT NULL, line INTEGER,"
	" email TEXT NOT NULL, contact_id INTEGER NOT NULL);"
	"CREATE TABLE unsubscribed(email TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE chunks("
	" id INTEGER PRIMARY KEY, sequence_slug TEXT NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'built' CHECK (state = 'built'"
	"  OR state = 'sent' OR state = 'acknowledged' OR state = 'failed'),"
	" size INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" http_status INTEGER, error TEXT, created_at TEXT, acked_at TEXT);"
	"CREATE TABLE sends(t_ms INTEGER NOT NULL);"
	"INSERT INTO meta VALUES('requests', '0');"
	"PRAGMA application_id=1296190539;"     /* 0x4d424c4b */
	"PRAGMA user_version=1;";

/* A v1 staging file after a stage and a partly finished push. */
static const char v1_data[] =
	"INSERT INTO runs VALUES(1, 'import', '2025-01-01T00:00:00.000Z',"
	" '2025-01-01T00:10:00.000Z', 'meisa-bulk import a.csv', 75, NULL);"
	"INSERT INTO inputs(id, path, size, sha256, rows_read, complete,"
	" staged_at) VALUES(1, 'a.csv', 100, 'aa', 4, 1,"
	" '2025-01-01T00:00:01.000Z');"
	"INSERT INTO contacts(email, external_id, body, input_id, line, state,"
	" attempts, acked_at, chunk_id, enroll_status) VALUES"
	" ('a@example.com', 'u1', '{\"email\":\"a@example.com\","
	"\"external_id\":\"u1\",\"source\":\"import\",\"custom_fields\":{\"b\":2,\"a\":1}}',"
	" 1, 2, 'upserted', 1, '2025-01-01T00:05:00.000Z', 1, 'enrolled'),"
	" ('b@example.com', NULL, '{\"email\":\"b@example.com\","
	"\"source\":\"import\"}', 1, 3, 'pending', 0, NULL, NULL, NULL),"
	" ('c@example.com', NULL, '{\"email\":\"c@example.com\","
	"\"source\":\"import\"}', 1, 4, 'failed', 1, NULL, NULL, NULL);"
	"INSERT INTO rejects(input_id, line, email, reason) VALUES"
	" (1, 5, 'x', 'invalid_email');"
	"INSERT INTO chunks(sequence_slug, state, size) VALUES"
	" ('onboarding', 'acknowledged', 1);";

static void make_v1(const char *data)
{
	sqlite3 *s;

	cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(s, v1_schema, NULL, NULL, NULL), SQLITE_OK,
		     "%s", sqlite3_errmsg(s));
	if (data)
		cr_assert_eq(sqlite3_exec(s, data, NULL, NULL, NULL),
			     SQLITE_OK, "%s", sqlite3_errmsg(s));
	sqlite3_close(s);
}

static int64_t q(struct db *db, const char *sql)
{
	struct err e = ERR_INIT;
	int64_t v = -1;

	cr_assert_eq(db_int(db, sql, &v, &e), MB_OK, "%s: %s", sql, e.msg);
	return v;
}

Test(db, v1_file_is_migrated_in_place_and_usable)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	int64_t gen = -1;
	int pushed = -1;

	make_v1(v1_data);
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(q(&db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	/* Nothing lost. */
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts"), 3);
	cr_assert_eq(q(&db, "SELECT count(*) FROM rejects"), 1);
	cr_assert_eq(q(&db, "SELECT count(*) FROM runs"), 1);
	cr_assert_eq(q(&db, "SELECT count(*) FROM inputs WHERE sha256 = 'aa'"
		       " AND size = 100 AND rows_read = 4"), 1);
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE email ="
		       " 'a@example.com' AND enroll_status = 'enrolled' AND"
		       " external_id = 'u1'"), 1);
	/* One generation, pushed (requests reached Meisa). */
	cr_assert_eq(db_gen_latest(&db, &gen, &pushed, &e), MB_OK, "%s",
		     e.msg);
	cr_assert_eq(gen, 1);
	cr_assert_eq(pushed, 1);
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE gen = 1"), 3);
	cr_assert_eq(q(&db, "SELECT count(*) FROM inputs WHERE gen = 1"), 1);
	/* The upserted contact was acknowledged with the body it has. */
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE body_hash ="
		       " mb_body_hash(body)"), 3);
	cr_assert_eq(q(&db, "SELECT acked_hash = body_hash AND acked_gen = 1"
		       " AND acked_fields = '[\"a\",\"b\"]' FROM contacts"
		       " WHERE email = 'a@example.com'"), 1);
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE acked_hash IS"
		       " NULL"), 2);
	/* inputs.sha256 is no longer unique: the same export may return. */
	cr_assert_eq(db_exec(&db, "INSERT INTO inputs(path, sha256, gen)"
			     " VALUES('a.csv', 'aa', 2)", &e), MB_OK, "%s",
		     e.msg);
	db_close(&db);
	/* Opening again does not migrate again. */
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(q(&db, "SELECT count(*) FROM inputs"), 2);
	db_close(&db);
}

Test(db, v1_file_never_pushed_is_an_open_generation)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	int64_t gen = -1;
	int pushed = -1;

	make_v1("INSERT INTO inputs(path, sha256) VALUES('a.csv', 'aa');"
		"INSERT INTO contacts(email, body, input_id, line) VALUES"
		" ('a@example.com', '{\"email\":\"a@example.com\"}', 1, 2);");
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(db_gen_latest(&db, &gen, &pushed, &e), MB_OK);
	cr_assert_eq(gen, 1);
	cr_assert_eq(pushed, 0);
	db_close(&db);
}

Test(db, empty_v1_file_has_no_generation)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	int64_t gen = -1;
	int pushed = -1;

	make_v1(NULL);
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(db_gen_latest(&db, &gen, &pushed, &e), MB_OK);
	cr_assert_eq(gen, 0);
	cr_assert_eq(pushed, 0);
	db_close(&db);
}

/* A new file and a migrated one are the same schema. */
Test(db, fresh_and_migrated_schemas_agree)
{
	static const char schema_sql[] =
		"SELECT group_concat(type || ' ' || name || ': ' ||"
		" coalesce(sql, ''), char(10)) FROM (SELECT * FROM"
		" sqlite_master ORDER BY name)";
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	const char *fresh = tmpdir_path("fresh.db");
	sqlite3_stmt *s;
	char *a, *b;

	cr_assert_eq(db_open(&db, fresh, DB_CREATE, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(sqlite3_prepare_v2(db.sql, schema_sql, -1, &s, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	a = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	db_close(&db);
	make_v1(NULL);
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(sqlite3_prepare_v2(db.sql, schema_sql, -1, &s, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	b = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	db_close(&db);
	cr_assert_str_eq(a, b);
	cr_assert(strstr(a, "table generations") != NULL, "%s", a);
	free(a);
	free(b);
}

/* A migration that cannot finish changes nothing and says why. */
Test(db, failed_migration_leaves_the_file_as_it_was)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	char want[64];
	sqlite3 *s;
	sqlite3_stmt *st;

	make_v1("DROP TABLE inputs;");
	cr_assert_eq(db_open(&db, path, DB_EXISTING, &e), MB_EDB);
	cr_assert(strstr(e.msg, "cannot migrate staging file") != NULL, "%s",
		  e.msg);
	snprintf(want, sizeof(want), "from schema 1 to %d", DB_SCHEMA_VERSION);
	cr_assert(strstr(e.msg, want) != NULL, "%s", e.msg);
	cr_assert(strstr(e.msg, "unchanged") != NULL, "%s", e.msg);
	cr_assert(strstr(e.msg, path) != NULL, "%s", e.msg);
	cr_assert_null(db.sql);
	cr_assert_eq(sqlite3_open(path, &s), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(s, "SELECT (SELECT user_version FROM"
		     " pragma_user_version), (SELECT count(*) FROM"
		     " pragma_table_info('contacts'))", -1, &st, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(st, 0), 1);
	cr_assert_eq(sqlite3_column_int(st, 1), 18);    /* v1's columns */
	sqlite3_finalize(st);
	sqlite3_close(s);
}

Test(db, body_hash_is_offered_to_sql)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	const char *body = "{\"email\":\"a@example.com\",\"n\":480.00}";
	char sql[256];

	cr_assert_eq(db_open(&db, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	snprintf(sql, sizeof(sql), "SELECT mb_body_hash('%s')", body);
	cr_assert_eq(q(&db, sql), db_body_hash(body, strlen(body)));
	cr_assert_eq(q(&db, "SELECT mb_body_hash('{\"n\":480}') ="
		       " mb_body_hash('{\"n\":4.8e2}')"), 1);
	cr_assert_eq(q(&db, "SELECT mb_body_hash(NULL) IS NULL"), 1);
	db_close(&db);
}
