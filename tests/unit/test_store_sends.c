/*
 * test_store_sends: send times and reserved slots in the staging file:
 * what each write does to the rows and to the requests count, and a send
 * time that cannot be read as an error (issue 14 item 8: push's
 * load_sends read a failed step as "no more sends").
 */
#include <criterion/criterion.h>
#include <string.h>

#include "store_sends.h"
#include "tmpdir.h"

static struct db db = DB_INIT;
static struct store_sends sends = STORE_SENDS_INIT;

static void exec(const char *sql)
{
	struct err e = ERR_INIT;

	cr_assert_eq(db_exec(&db, sql, &e), MB_OK, "%s: %s", sql, e.msg);
}

static int64_t count(const char *sql)
{
	struct err e = ERR_INIT;
	int64_t n = -1;

	cr_assert_eq(db_int(&db, sql, &n, &e), MB_OK, "%s: %s", sql, e.msg);
	return n;
}

static int64_t requests(void)
{
	return count("SELECT CAST(value AS INTEGER) FROM meta WHERE key ="
		     " 'requests'");
}

static void setup(void)
{
	struct err e = ERR_INIT;

	tmpdir_make();
	cr_assert_eq(db_open(&db, tmpdir_path("stage.db"), DB_CREATE, &e),
		     MB_OK, "%s", e.msg);
	cr_assert_eq(store_sends_open(&sends, &db, &e), MB_OK, "%s", e.msg);
}

static void teardown(void)
{
	store_sends_close(&sends);
	db_close(&db);
	tmpdir_remove();
}

TestSuite(store_sends, .init = setup, .fini = teardown);

Test(store_sends, reserve_record_and_drop_keep_requests_exact)
{
	static const int64_t times[] = { 5000, 6000, 7000 };
	struct err e = ERR_INIT;

	cr_assert_eq(store_sends_reserve(&sends, 9000, 4, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(count("SELECT count(*) FROM sends WHERE t_ms = 9000"),
		     4);
	cr_expect_eq(requests(), 4);
	/* Two of the three sends used a slot: one more request. */
	cr_assert_eq(store_sends_record(&sends, times, 3, 1, 0, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(store_sends_drop(&sends, 9000, 2, 0, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(requests(), 5);
	cr_expect_eq(count("SELECT count(*) FROM sends"), 5);
	/* The two slots left go back unused. */
	cr_assert_eq(store_sends_drop(&sends, 9000, 2, 1, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(requests(), 3);
	cr_expect_eq(count("SELECT count(*) FROM sends WHERE t_ms = 9000"),
		     0);
	cr_assert_eq(store_sends_drop(&sends, 9000, 0, 1, &e), MB_OK);
	cr_expect_eq(requests(), 3);
}

Test(store_sends, record_forgets_times_before_keep)
{
	static const int64_t times[] = { 100, 200, 300 };
	struct err e = ERR_INIT;

	cr_assert_eq(store_sends_record(&sends, times, 3, 3, 250, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_eq(count("SELECT count(*) FROM sends"), 1);
	cr_expect_eq(requests(), 3);
}

static void collect(void *ctx, int64_t t_ms)
{
	char *out = ctx;

	snprintf(out + strlen(out), 64, "%lld,", (long long)t_ms);
}

Test(store_sends, each_walks_the_times_since_oldest_first)
{
	char got[128] = "";
	struct err e = ERR_INIT;

	exec("INSERT INTO sends VALUES (300), (100), (200), (50)");
	cr_assert_eq(store_sends_each(&sends, 100, collect, got, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_str_eq(got, "100,200,300,");
}

Test(store_sends, each_stops_at_a_time_it_cannot_read)
{
	char got[128] = "";
	struct err e = ERR_INIT;

	store_sends_close(&sends);
	/* A sends whose rows fail inside SQLite while stepping. */
	exec("DROP TABLE sends; CREATE VIEW sends(t_ms) AS"
	     " SELECT json_extract('not json', '$')");
	/* store_sends_open would refuse a view (its insert); the walk
	 * needs only the db. */
	sends = (struct store_sends)STORE_SENDS_INIT;
	sends.db = &db;
	cr_assert_eq(store_sends_each(&sends, 0, collect, got, &e), MB_EDB);
	cr_expect(strstr(e.msg, "stage.db") && strstr(e.msg, "malformed JSON"),
		  "%s", e.msg);
	cr_expect_str_eq(got, "");
}

Test(store_sends, close_leaves_it_empty)
{
	store_sends_close(&sends);
	cr_expect_null(sends.insert);
	cr_expect_null(sends.db);
	store_sends_close(&sends);
	store_sends_close(NULL);
}
