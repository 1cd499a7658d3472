/*
 * test_store_rows: the export cursor, on a small staging file of two
 * generations: each kind's header, rows and order, what a cell says for
 * a state in flight, the end of the rows, and a failed step as an error.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "store_rows.h"
#include "tmpdir.h"

static struct db db = DB_INIT;

static void exec(const char *sql)
{
	struct err e = ERR_INIT;

	cr_assert_eq(db_exec(&db, sql, &e), MB_OK, "%s: %s", sql, e.msg);
}

/*
 * Generation 1 held a.csv (a, b, gone); generation 2 holds b.csv (a, b
 * again, c) and its rejects, out of line order.
 */
static void setup(void)
{
	struct err e = ERR_INIT;

	tmpdir_make();
	cr_assert_eq(db_open(&db, tmpdir_path("stage.db"), DB_CREATE, &e),
		     MB_OK, "%s", e.msg);
	exec("INSERT INTO generations(id, started_at) VALUES"
	     " (1, '2026-01-01T00:00:00.000Z'),"
	     " (2, '2026-01-02T00:00:00.000Z');"
	     "INSERT INTO inputs(id, path, gen, rows_read) VALUES"
	     " (1, 'a.csv', 1, 3), (2, 'b.csv', 2, 5);"
	     "INSERT INTO rejects(input_id, line, email, reason, detail) VALUES"
	     " (1, 4, 'old', 'invalid_email', NULL),"
	     " (2, 7, 'x@', 'invalid_email', 'no domain'),"
	     " (2, 3, '', 'missing_email', NULL);"
	     "INSERT INTO contacts(email, external_id, body, input_id, line,"
	     " gen, state, http_status, error, source_status, meisa_id,"
	     " cleared, vanished) VALUES"
	     " ('gone@example.com', 'g1', '{}', 1, 4, 1, 'upserted', 200,"
	     "  NULL, NULL, 'm-gone', NULL, 1),"
	     " ('a@example.com', 'a1', '{}', 2, 2, 2, 'sent', 500, 'boom',"
	     "  NULL, NULL, NULL, 0),"
	     /* Schema 4: unchanged since generation 1, still in the latest. */
	     " ('b@example.com', NULL, '{}', 2, 4, 1, 'upserted', 200, NULL,"
	     "  'unsubscribed', 'm-b', '[\"city\",\"plan\"]', 0),"
	     " ('c@example.com', NULL, '{}', 2, 5, 2, 'failed', 422,"
	     "  'bad field', NULL, NULL, NULL, 0);"
	     "INSERT INTO unsubscribed VALUES ('c@example.com'),"
	     " ('stranger@example.com');");
}

static void teardown(void)
{
	db_close(&db);
	tmpdir_remove();
}

TestSuite(store_rows, .init = setup, .fini = teardown);

/* A cell as text, "(null)" for NULL, so rows compare as strings. */
static void join(const struct store_row *row, char *out, size_t size)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < row->ncells; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s",
					 i ? "|" : "",
					 row->cells[i] ? row->cells[i] :
					 "(null)");
}

/* Every line of kind (the header first) against want, NULL-terminated. */
static void expect_rows(enum store_rows_kind kind, const char *const *want)
{
	struct store_rows rows = STORE_ROWS_INIT;
	struct store_row row;
	struct err e = ERR_INIT;
	char got[512];
	size_t n = 0;

	cr_assert_eq(store_rows_open(&rows, &db, kind, &e), MB_OK, "%s",
		     e.msg);
	store_rows_header(&rows, &row);
	join(&row, got, sizeof(got));
	cr_expect_str_eq(got, want[n++]);
	while (store_rows_next(&rows, &row, &e) == MB_OK && !row.done) {
		cr_assert_not_null(want[n], "extra row");
		join(&row, got, sizeof(got));
		cr_expect_str_eq(got, want[n], "row %zu", n);
		n++;
	}
	cr_assert_eq(e.rc, MB_OK, "%s", e.msg);
	cr_expect_eq(row.done, 1);
	cr_expect_null(want[n], "rows missing after %zu", n);
	store_rows_close(&rows);
}

Test(store_rows, rejects_are_the_latest_generations_in_line_order)
{
	static const char *const want[] = {
		"source|line|email|reason|detail",
		"b.csv|3||missing_email|(null)",
		"b.csv|7|x@|invalid_email|no domain",
		NULL,
	};

	expect_rows(STORE_ROWS_REJECTS, want);
}

/* sent is pending, and a pending contact's last answer is not shown. */
Test(store_rows, results_show_state_answer_and_cleared_fields)
{
	static const char *const want[] = {
		"email|external_id|state|http_status|enroll_status|error|"
		"source_status|meisa_id|cleared_fields",
		"a@example.com|a1|pending|(null)|(null)|(null)|(null)|(null)|"
		"(null)",
		"b@example.com|(null)|upserted|200|(null)|(null)|unsubscribed|"
		"m-b|city;plan",
		"c@example.com|(null)|failed|422|(null)|bad field|(null)|"
		"(null)|(null)",
		NULL,
	};

	expect_rows(STORE_ROWS_RESULTS, want);
}

Test(store_rows, suppressed_by_source_or_by_meisa)
{
	static const char *const want[] = {
		"email|reason|state",
		"b@example.com|unsubscribed|upserted",
		"c@example.com|meisa_unsubscribed|failed",
		NULL,
	};

	expect_rows(STORE_ROWS_SUPPRESSED, want);
}

Test(store_rows, missing_lists_the_previous_generation_only)
{
	static const char *const want[] = {
		"email|external_id|state|meisa_id|last_seen_in|last_seen_at",
		"gone@example.com|g1|upserted|m-gone|a.csv|"
		"2026-01-01T00:00:00.000Z",
		NULL,
	};

	expect_rows(STORE_ROWS_MISSING, want);
}

Test(store_rows, missing_is_empty_with_one_generation)
{
	static const char *const want[] = {
		"email|external_id|state|meisa_id|last_seen_in|last_seen_at",
		NULL,
	};

	exec("DELETE FROM contacts WHERE gen = 1;"
	     " DELETE FROM generations WHERE id = 1;");
	expect_rows(STORE_ROWS_MISSING, want);
}

/* A step that fails is an error with SQLite's text, not the last row. */
Test(store_rows, failed_step_is_an_error_not_the_end)
{
	struct store_rows rows = STORE_ROWS_INIT;
	struct store_row row = { 0, 0, NULL };
	struct err e = ERR_INIT;
	enum mb_rc rc;

	exec("UPDATE contacts SET cleared = 'not json' WHERE email ="
	     " 'c@example.com'");
	cr_assert_eq(store_rows_open(&rows, &db, STORE_ROWS_RESULTS, &e),
		     MB_OK, "%s", e.msg);
	while ((rc = store_rows_next(&rows, &row, &e)) == MB_OK && !row.done)
		;
	cr_expect_eq(rc, MB_EDB);
	cr_expect_eq(row.done, 0);
	cr_expect(strstr(e.msg, "stage.db") && strstr(e.msg, "JSON"), "%s",
		  e.msg);
	store_rows_close(&rows);
}

Test(store_rows, unknown_kind_is_internal)
{
	struct store_rows rows = STORE_ROWS_INIT;
	struct err e = ERR_INIT;

	cr_expect_eq(store_rows_open(&rows, &db, (enum store_rows_kind)99,
				     &e), MB_EINTERNAL);
	store_rows_close(&rows);
	cr_expect_null(rows.stmt);
}

Test(store_rows, close_leaves_the_cursor_empty)
{
	struct store_rows rows = STORE_ROWS_INIT;
	struct store_row row;
	struct err e = ERR_INIT;

	store_rows_close(NULL);
	store_rows_close(&rows);
	cr_assert_eq(store_rows_open(&rows, &db, STORE_ROWS_REJECTS, &e),
		     MB_OK, "%s", e.msg);
	cr_assert_eq(store_rows_next(&rows, &row, &e), MB_OK, "%s", e.msg);
	store_rows_close(&rows);
	cr_expect_null(rows.stmt);
	cr_expect_null(rows.db);
	cr_expect_eq(rows.ncells, 0);
	store_rows_close(&rows);
}
