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

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_db.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stage.db", dir);
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(db, .init = setup, .fini = teardown);

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

Test(db, run_history)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	int64_t id = 0, n = 0;

	cr_assert_eq(db_open(&db, path, DB_CREATE, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(db_run_begin(&db, "stage", "meisa-bulk stage x.csv", &id,
				  &e), MB_OK);
	cr_assert_gt(id, 0);
	db_run_end(&db, id, 65, "{\"a\":1}");
	cr_assert_eq(db_int(&db, "SELECT exit_status FROM runs WHERE"
			    " ended_at IS NOT NULL", &n, &e), MB_OK);
	cr_assert_eq(n, 65);
	db_close(&db);
}
