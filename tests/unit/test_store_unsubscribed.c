/*
 * test_store_unsubscribed: Meisa's unsubscribed list replaces the staging
 * file's copy, normalised as staged addresses are, with its as_of kept.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "store_unsubscribed.h"
#include "tmpdir.h"

static struct db db = DB_INIT;

static int64_t number(const char *sql)
{
	struct err e = ERR_INIT;
	int64_t n = -1;

	cr_assert_eq(db_int(&db, sql, &n, &e), MB_OK, "%s: %s", sql, e.msg);
	return n;
}

static void setup(void)
{
	struct err e = ERR_INIT;

	tmpdir_make();
	cr_assert_eq(db_open(&db, tmpdir_path("stage.db"), DB_CREATE, &e),
		     MB_OK, "%s", e.msg);
	cr_assert_eq(db_exec(&db, "INSERT INTO unsubscribed VALUES"
			     " ('stale@x.com')", &e), MB_OK, "%s", e.msg);
}

static void teardown(void)
{
	db_close(&db);
	tmpdir_remove();
}

TestSuite(store_unsubscribed, .init = setup, .fini = teardown);

Test(store_unsubscribed, replace_normalises_and_keeps_as_of)
{
	static const char list[] = "{\"as_of\": \"2026-01-01T00:00:00Z\","
		" \"count\": 3, \"emails\": [\" Bob@X.com\", \"bob@x.com\","
		" 7]}";
	struct buf as_of = BUF_INIT, meta = BUF_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(store_unsubscribed_replace(&db, list, strlen(list),
						&as_of, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_str_eq(as_of.data, "2026-01-01T00:00:00Z");
	cr_expect_eq(number("SELECT count(*) FROM unsubscribed"), 1);
	cr_expect_eq(number("SELECT count(*) FROM unsubscribed WHERE email ="
			    " 'bob@x.com'"), 1);
	cr_assert_eq(db_meta_get(&db, "unsubscribed_as_of", &meta, &e),
		     MB_OK, "%s", e.msg);
	cr_expect_str_eq(meta.data, "2026-01-01T00:00:00Z");
	buf_release(&as_of);
	buf_release(&meta);
}

Test(store_unsubscribed, a_list_that_is_not_json_is_refused)
{
	struct buf as_of = BUF_INIT;
	struct err e = ERR_INIT;

	cr_expect_eq(store_unsubscribed_replace(&db, "nope", 4, &as_of, &e),
		     MB_EPROTO);
	cr_expect(strstr(e.msg, "not JSON"), "%s", e.msg);
	buf_release(&as_of);
}
