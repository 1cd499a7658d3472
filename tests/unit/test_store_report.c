/*
 * test_store_report: the reads behind status, one by one (test_status
 * checks the counts they add up to): generation numbers, the pass
 * cursor, the request count kept apart, the run history and the status
 * object as JSON.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "store_report.h"
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

TestSuite(store_report, .init = setup, .fini = teardown);

Test(store_report, generations_latest_and_the_one_before)
{
	struct err e = ERR_INIT;
	int64_t latest = -1, previous = -1;

	cr_assert_eq(store_report_generations(&db, &latest, &previous, &e),
		     MB_OK, "%s", e.msg);
	cr_expect_eq(latest, 0);
	cr_expect_eq(previous, 0);
	exec("INSERT INTO generations(id, started_at) VALUES (2, 't'),"
	     " (5, 't')");
	cr_assert_eq(store_report_generations(&db, &latest, &previous, &e),
		     MB_OK, "%s", e.msg);
	cr_expect_eq(latest, 5);
	cr_expect_eq(previous, 2);
}

/*
 * Rows of gen and previous only, in rowid order, then done.  Schema 4: a
 * contact not vanished is of the latest generation whatever gen its row
 * holds ('a' was last written by generation 2).
 */
Test(store_report, pass_reads_two_generations_then_ends)
{
	struct store_pass p = STORE_PASS_INIT;
	struct store_pass_row row;
	struct err e = ERR_INIT;
	char got[256] = "";
	size_t used = 0;

	exec("INSERT INTO contacts(email, body, input_id, line, gen, state,"
	     " acked_gen, enroll_status, vanished) VALUES"
	     " ('a', '{}', 1, 2, 2, 'upserted', 2, 'enrolled', 0),"
	     " ('b', '{}', 1, 3, 1, 'pending', NULL, NULL, 1),"
	     " ('c', '{}', 1, 4, 2, 'sent', NULL, 'whatever', 1),"
	     " ('d', '{}', 1, 5, 3, 'failed', NULL, 'failed', 0)");
	cr_assert_eq(store_pass_open(&p, &db, 3, 2, &e), MB_OK, "%s", e.msg);
	while (store_pass_next(&p, &row, &e) == MB_OK && !row.done)
		used += (size_t)snprintf(got + used, sizeof(got) - used,
					 "%lld %s %d/%lld %s %d;",
					 (long long)row.gen, row.state,
					 row.has_acked_gen,
					 (long long)row.acked_gen,
					 row.enroll_status ?
					 row.enroll_status : "-",
					 row.enroll_unknown);
	cr_assert_eq(e.rc, MB_OK, "%s", e.msg);
	cr_expect_eq(row.done, 1);
	cr_expect_str_eq(got, "3 upserted 1/2 enrolled 0;"
			 "2 sent 0/0 whatever 1;"
			 "3 failed 0/0 failed 0;");
	store_pass_close(&p);
	cr_expect_null(p.stmt);
	store_pass_close(&p);
	store_pass_close(NULL);
}

/* No generation before the first: the pass reads the latest only. */
Test(store_report, pass_without_previous_reads_the_latest)
{
	struct store_pass p = STORE_PASS_INIT;
	struct store_pass_row row;
	struct err e = ERR_INIT;
	int n = 0;

	exec("INSERT INTO contacts(email, body, input_id, line, gen, vanished)"
	     " VALUES ('a', '{}', 1, 2, 1, 0), ('b', '{}', 1, 3, 0, 1)");
	cr_assert_eq(store_pass_open(&p, &db, 1, 0, &e), MB_OK, "%s", e.msg);
	while (store_pass_next(&p, &row, &e) == MB_OK && !row.done)
		n++;
	cr_expect_eq(n, 1);
	store_pass_close(&p);
}

Test(store_report, requests_read_from_meta)
{
	struct err e = ERR_INIT;
	int64_t requests = -1;

	cr_assert_eq(store_report_requests(&db, &requests, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(requests, 0);
	cr_assert_eq(db_meta_set(&db, "requests", "1234", &e), MB_OK);
	cr_assert_eq(store_report_requests(&db, &requests, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(requests, 1234);
}

Test(store_report, run_history_as_json)
{
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(store_report_runs_json(&db, &out, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_str_eq(buf_str(&out), "[]");
	cr_assert_eq(store_report_last_run_json(&db, &out, &e), MB_OK);
	cr_expect_eq(out.len, 0);
	exec("INSERT INTO runs(id, kind, started_at, summary) VALUES"
	     " (1, 'stage', 't1', '{\"rows\":2}'), (2, 'push', 't2', 'x');"
	     "INSERT INTO inputs(id, run_id, path, gen) VALUES (1, 1, 'a', 1)");
	cr_assert_eq(store_report_last_run_json(&db, &out, &e), MB_OK);
	cr_expect_str_eq(buf_str(&out), "{\"id\":2,\"kind\":\"push\","
			 "\"started_at\":\"t2\",\"ended_at\":null,"
			 "\"args\":null,"
			 "\"exit_status\":null,\"summary\":\"x\","
			 "\"inputs\":[]}");
	cr_assert_eq(store_report_runs_json(&db, &out, &e), MB_OK);
	cr_expect(strstr(buf_str(&out), "\"summary\":{\"rows\":2},"
			 "\"inputs\":[{\"path\":\"a\""), "%s", buf_str(&out));
	buf_release(&out);
}

Test(store_report, status_object_as_json)
{
	struct status_counts c;
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	memset(&c, 0, sizeof(c));
	c.rows_read = 7;
	c.enroll_unknown = 3;
	cr_assert_eq(store_report_status_json(&db, &c, "", "", &out, &e),
		     MB_OK, "%s", e.msg);
	cr_expect(strstr(buf_str(&out), "{\"rows_read\":7,\"rejected\":0,"),
		  "%s", buf_str(&out));
	cr_expect(strstr(buf_str(&out), "\"enroll_unknown\":3,"
			 "\"unsubscribed_as_of\":null,\"staging_file\":\""),
		  "%s", buf_str(&out));
	cr_expect(strstr(buf_str(&out), "stage.db\",\"last_run\":null}"),
		  "%s", buf_str(&out));
	cr_assert_eq(store_report_status_json(&db, &c, "t", "{\"id\":1}",
					      &out, &e), MB_OK);
	cr_expect(strstr(buf_str(&out), "\"unsubscribed_as_of\":\"t\","),
		  "%s", buf_str(&out));
	cr_expect(strstr(buf_str(&out), "\"last_run\":{\"id\":1}}"), "%s",
		  buf_str(&out));
	buf_release(&out);
}
