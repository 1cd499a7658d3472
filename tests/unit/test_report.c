/*
 * test_report: the HTML writer: escaping (a cell can hold <script>), the
 * numbers and bar widths of the charts, and whole pages built from small
 * staging files: the counts in data-count attributes, nothing that could
 * fetch, examples capped and left out on request, the staging file never
 * overwritten.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"
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

TestSuite(report, .init = setup, .fini = teardown);

struct escape_case {
	const char *in;
	size_t max;
	const char *out;
};

static const struct escape_case escapes[] = {
	{ "plain", 0, "plain" },
	{ "<script>alert('x')</script>", 0,
	  "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" },
	{ "a&amp;b", 0, "a&amp;amp;b" },
	{ "\"><img src=x onerror=y>", 0,
	  "&quot;&gt;&lt;img src=x onerror=y&gt;" },
	{ "abcdef", 3, "abc\xe2\x80\xa6" },
	/* Cut inside "é": back to its first byte. */
	{ "x\xc3\xa9y", 2, "x\xe2\x80\xa6" },
	{ "<<", 1, "&lt;\xe2\x80\xa6" },
	{ "", 0, "" },
};

Test(report, escapes_every_special_character)
{
	size_t i;

	for (i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		struct buf b = BUF_INIT;

		cr_assert_eq(report_escape(&b, escapes[i].in, escapes[i].max),
			     MB_OK);
		cr_assert_str_eq(buf_str(&b), escapes[i].out, "case %zu", i);
		buf_release(&b);
	}
}

Test(report, escape_of_null_appends_nothing)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(report_escape(&b, NULL, 0), MB_OK);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
}

Test(report, escape_past_the_cap_is_an_error)
{
	struct buf b;

	buf_init(&b, 8);
	cr_assert_eq(report_escape(&b, "<<<<", 0), MB_ETOOBIG);
	buf_release(&b);
}

Test(report, numbers_have_thousands_separators)
{
	const struct { int64_t n; const char *s; } cases[] = {
		{ 0, "0" }, { 999, "999" }, { 1000, "1,000" },
		{ 1234567, "1,234,567" }, { -1234, "-1,234" },
		{ INT64_MIN, "-9,223,372,036,854,775,808" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;

		cr_assert_eq(report_number(&b, cases[i].n), MB_OK);
		cr_assert_str_eq(buf_str(&b), cases[i].s);
		buf_release(&b);
	}
}

Test(report, bars_are_in_proportion_and_carry_their_numbers)
{
	const struct report_bar bars[] = {
		{ "Rows <read>", "rows_read", 5000, 0, "total" },
		{ "Rejected", "rejected", 1000, 1, "bad" },
		{ "Tiny", NULL, 1, 1, "bad" },
		{ "None", "failed", 0, 1, "bad" },
	};
	struct buf b = BUF_INIT;

	cr_assert_eq(report_bars_svg(&b, bars, 4, 0), MB_OK);
	cr_assert(strstr(b.data, "Rows &lt;read&gt;"));
	cr_assert(!strstr(b.data, "<read>"));
	cr_assert(strstr(b.data, "width=\"520\""), "%s", b.data);
	cr_assert(strstr(b.data, "width=\"104\""), "%s", b.data);
	/* A positive value stays visible; zero draws nothing. */
	cr_assert(strstr(b.data, "width=\"2\""), "%s", b.data);
	cr_assert(strstr(b.data, "width=\"0\""), "%s", b.data);
	cr_assert(strstr(b.data, "data-count=\"rows_read\">5,000</text>"));
	cr_assert(strstr(b.data, "data-count=\"rejected\">1,000</text>"));
	cr_assert(strstr(b.data, "data-count=\"failed\">0</text>"));
	buf_release(&b);
}

Test(report, bars_never_overflow_their_scale)
{
	const struct report_bar bar = { "More", "x", 300, 0, "total" };
	struct buf b = BUF_INIT;

	cr_assert_eq(report_bars_svg(&b, &bar, 1, 100), MB_OK);
	cr_assert(strstr(b.data, "width=\"520\""), "%s", b.data);
	buf_release(&b);
}

Test(report, columns_scale_to_the_busiest)
{
	const int64_t counts[] = { 10, 0, 5 };
	struct buf b = BUF_INIT;

	cr_assert_eq(report_columns_svg(&b, counts, 3, "<from>", "to",
					"per minute"), MB_OK);
	cr_assert(strstr(b.data, "data-max=\"10\">10</text>"), "%s", b.data);
	cr_assert(strstr(b.data, "height=\"160\"><title>10</title>"));
	cr_assert(strstr(b.data, "height=\"80\"><title>5</title>"));
	cr_assert(strstr(b.data, "height=\"0\"><title>0</title>"));
	cr_assert(strstr(b.data, "&lt;from&gt;"));
	buf_release(&b);
}

/* Rejects and failed contacts whose values are markup. */
static void hostile_file(void)
{
	exec("INSERT INTO generations(id, started_at) VALUES"
	     " (1, '2026-01-01T00:00:00.000Z');"
	     "INSERT INTO runs(kind, started_at, ended_at, args, exit_status,"
	     " summary) VALUES ('import', '2026-01-01T00:00:00.000Z',"
	     " '2026-01-01T01:02:03.000Z', 'meisa-bulk import <b>.csv"
	     " --rate 10/m', 1, '{\"push\":{\"requests\":3,\"upserted\":1,"
	     "\"failed\":1}}');"
	     "INSERT INTO inputs(id, path, gen, rows_read, complete, size,"
	     " sha256) VALUES (1, '<i>.csv', 1, 15, 1, 2048, 'ab12');"
	     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	     " WHERE i < 12) INSERT INTO rejects(input_id, line, email, reason,"
	     " detail) SELECT 1, i + 1, '<script>x' || i || '</script>',"
	     " 'invalid_email', '<img src=http://evil/>' FROM n;"
	     "INSERT INTO contacts(email, body, input_id, line, gen, state,"
	     " http_status, error, acked_at) VALUES"
	     " ('ok@example.com', '{}', 1, 14, 1, 'upserted', 200, NULL,"
	     "  '2026-01-01T00:10:00.000Z'),"
	     " ('\"><svg onload=1>@example.com', '{}', 1, 15, 1, 'failed',"
	     "  422, '<b>bad</b>', NULL),"
	     " ('p@example.com', '{}', 1, 16, 1, 'pending', NULL, NULL,"
	     "  NULL);");
}

static void page(const struct report_opts *ro, struct buf *out)
{
	struct err e = ERR_INIT;

	cr_assert_eq(report_html(&db, ro, out, &e), MB_OK, "%s", e.msg);
}

Test(report, page_escapes_every_value_and_fetches_nothing)
{
	struct report_opts ro = REPORT_OPTS_INIT;
	struct buf b = BUF_INIT;

	hostile_file();
	page(&ro, &b);
	cr_assert(!strstr(b.data, "<script"), "a value ran as markup");
	cr_assert(!strstr(b.data, "<img"));
	cr_assert(!strstr(b.data, "<svg onload"));
	cr_assert(!strstr(b.data, "<i>.csv"));
	cr_assert(!strstr(b.data, "<b>bad"));
	cr_assert(strstr(b.data, "&lt;script&gt;x1&lt;/script&gt;"));
	cr_assert(strstr(b.data, "&lt;b&gt;bad&lt;/b&gt;"));
	cr_assert(strstr(b.data, "content=\"default-src 'none';"
			 " style-src 'unsafe-inline'\""));
	cr_assert(!strstr(b.data, "src=\"http"));
	cr_assert(!strstr(b.data, "href=\"http"));
	buf_release(&b);
}

Test(report, page_has_the_counts_and_at_most_ten_examples)
{
	struct report_opts ro = REPORT_OPTS_INIT;
	struct buf b = BUF_INIT;
	char *p;
	int n = 0;

	hostile_file();
	page(&ro, &b);
	cr_assert(strstr(b.data, "data-count=\"rejected\">12<"));
	cr_assert(strstr(b.data, "data-count=\"failed\">1<"));
	cr_assert(strstr(b.data, "data-count=\"pending\">1<"));
	cr_assert(strstr(b.data, "data-count=\"rows_read\">15<"));
	for (p = b.data; (p = strstr(p, "&lt;script&gt;x")); p++)
		n++;
	cr_assert_eq(n, 10, "%d reject examples", n);
	/* The import's --rate: 10/m leaves 1 pending contact 6 s. */
	cr_assert(strstr(b.data, "data-eta=\"6\""), "no eta");
	cr_assert(strstr(b.data, "1 h 02 min"));
	cr_assert(strstr(b.data, "meisa-bulk export rejects -o"));
	cr_assert(strstr(b.data, "meisa-bulk export results -o"));
	buf_release(&b);
}

Test(report, no_examples_shows_no_address_or_cell)
{
	struct report_opts ro = REPORT_OPTS_INIT;
	struct buf b = BUF_INIT;

	hostile_file();
	ro.no_examples = 1;
	page(&ro, &b);
	cr_assert(!strstr(b.data, "script&gt;x"));
	cr_assert(!strstr(b.data, "onload"));
	cr_assert(!strstr(b.data, "evil"));
	cr_assert(strstr(b.data, "data-count=\"rejected\">12<"));
	buf_release(&b);
}

Test(report, empty_staging_file_has_a_page)
{
	struct report_opts ro = REPORT_OPTS_INIT;
	struct buf b = BUF_INIT;

	page(&ro, &b);
	cr_assert(strstr(b.data, "Nothing staged yet"));
	cr_assert(strstr(b.data, "data-count=\"contacts\">0<"));
	cr_assert(strstr(b.data, "</html>"));
	buf_release(&b);
}

Test(report, write_refuses_the_staging_file_and_is_private)
{
	struct report_opts ro = REPORT_OPTS_INIT;
	struct err e = ERR_INIT;
	const char *out = tmpdir_path("r.html");
	struct stat st;

	cr_assert_eq(report_write(&db, db.path, &ro, &e), MB_EUSAGE);
	cr_assert(strstr(e.msg, "staging file"), "%s", e.msg);
	err_clear(&e);
	cr_assert_eq(report_write(&db, out, &ro, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(stat(out, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}
