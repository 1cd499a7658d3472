/*
 * test_store_runs: the run history as runs write it and as status --runs
 * and stage -v read it, and a read that fails mid-way is an error.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "store_runs.h"
#include "tmpdir.h"

static struct db db = DB_INIT;

static void exec(const char *sql)
{
	struct err e = ERR_INIT;

	cr_assert_eq(db_exec(&db, sql, &e), MB_OK, "%s: %s", sql, e.msg);
}

static void setup(void)
{
	struct err e = ERR_INIT;

	tmpdir_make();
	cr_assert_eq(db_open(&db, tmpdir_path("stage.db"), DB_CREATE, &e),
		     MB_OK, "%s", e.msg);
}

static void teardown(void)
{
	db_close(&db);
	tmpdir_remove();
}

TestSuite(store_runs, .init = setup, .fini = teardown);

/* Every line of an open cursor, joined by '\n', into out. */
static enum mb_rc read_lines(struct store_runs_lines *l, char *out,
			     size_t size, struct err *e)
{
	const char *line;
	enum mb_rc rc;
	size_t n = 0;

	out[0] = '\0';
	while ((rc = store_runs_lines_next(l, &line, e)) == MB_OK && line)
		n += (size_t)snprintf(out + n, size - n, "%s\n", line);
	store_runs_lines_close(l);
	return rc;
}

Test(store_runs, begin_then_end_records_the_run)
{
	struct err e = ERR_INIT;
	int64_t id = 0, n = 0;

	cr_assert_eq(store_runs_begin(&db, "stage", "meisa-bulk stage x.csv",
				      &id, &e), MB_OK, "%s", e.msg);
	cr_assert_gt(id, 0);
	cr_assert_eq(db_int(&db, "SELECT count(*) FROM runs WHERE ended_at"
			    " IS NULL AND kind = 'stage'", &n, &e), MB_OK);
	cr_assert_eq(n, 1);
	store_runs_end(&db, id, 65, "{\"a\":1}");
	cr_assert_eq(db_int(&db, "SELECT exit_status FROM runs WHERE"
			    " ended_at IS NOT NULL AND summary = '{\"a\":1}'",
			    &n, &e), MB_OK);
	cr_assert_eq(n, 65);
	store_runs_end(&db, 0, 1, NULL);     /* no run: nothing happens */
}

Test(store_runs, history_lists_each_run_with_its_inputs)
{
	struct store_runs_lines l = STORE_RUNS_LINES_INIT;
	struct err e = ERR_INIT;
	char text[1024], want[1024];

	exec("INSERT INTO runs(id, kind, started_at, ended_at, exit_status,"
	     " args) VALUES (1, 'stage', 't1', 't2', 0, 'stage a.csv'),"
	     " (2, 'push', 't3', NULL, NULL, 'push');"
	     "INSERT INTO inputs(id, run_id, path, size, sha256, gen,"
	     " rows_read) VALUES (1, 1, 'a.csv', 10, 'ab', 1, 3)");
	cr_assert_eq(store_runs_history_open(&l, &db, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(read_lines(&l, text, sizeof(text), &e), MB_OK, "%s",
		     e.msg);
	snprintf(want, sizeof(want), "%-4d %-7s %-24s %-24s %-5s %s\n"
		 "       input: a.csv  (10 bytes, sha256 ab, generation 1, 3"
		 " rows)\n%-4d %-7s %-24s %-24s %-5s %s\n",
		 1, "stage", "t1", "t2", "0", "stage a.csv",
		 2, "push", "t3", "(running or killed)", "-", "push");
	cr_expect_str_eq(text, want);
}

Test(store_runs, inputs_of_one_run)
{
	struct store_runs_lines l = STORE_RUNS_LINES_INIT;
	struct err e = ERR_INIT;
	char text[512];

	exec("INSERT INTO runs(id, kind, started_at) VALUES (1, 'stage', 't'),"
	     " (2, 'stage', 't');"
	     "INSERT INTO inputs(id, run_id, path, preset, kind, delimiter,"
	     " rows_read, rejected, duplicates, gen) VALUES"
	     " (1, 1, 'old.csv', 'generic', 'csv', ',', 1, 0, 0, 1),"
	     " (2, 2, 'a.csv', 'mailchimp', 'csv', ';', 5, 1, 2, 1),"
	     " (3, 2, 'b.csv', NULL, NULL, NULL, 0, 0, 0, 1)");
	cr_assert_eq(store_runs_inputs_open(&l, &db, 2, &e), MB_OK, "%s",
		     e.msg);
	cr_assert_eq(read_lines(&l, text, sizeof(text), &e), MB_OK, "%s",
		     e.msg);
	cr_expect_str_eq(text,
		"a.csv: mailchimp, csv, delimiter ';', 5 rows, 1 rejected,"
		" 2 duplicates\n"
		"b.csv: ?, ?, delimiter '?', 0 rows, 0 rejected, 0"
		" duplicates\n");
}

/* Regression: a step that fails was read as the end of the rows. */
Test(store_runs, a_failed_step_is_an_error_not_the_end)
{
	struct store_runs_lines l = STORE_RUNS_LINES_INIT;
	struct err e = ERR_INIT;
	char text[512];

	exec("INSERT INTO runs(id, kind, started_at, args) VALUES"
	     " (1, 'stage', 't', 'a');"
	     "ALTER TABLE runs RENAME TO runs_kept;"
	     "CREATE VIEW runs AS SELECT id, kind, started_at, ended_at,"
	     " exit_status, json('not json') AS args FROM runs_kept");
	cr_assert_eq(store_runs_history_open(&l, &db, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(read_lines(&l, text, sizeof(text), &e), MB_EDB);
	cr_expect(strstr(e.msg, "cannot read the run history of") != NULL,
		  "%s", e.msg);
	cr_expect(strstr(e.msg, "malformed JSON") != NULL, "%s", e.msg);
	store_runs_lines_close(&l);          /* twice is safe */
}
