/*
 * test_store_chunks: enrollment chunks in the staging file: what is left
 * to enroll, a new chunk built from the upserted enrollable contacts after
 * the cursor, an open chunk resumed first (less the addresses Meisa has
 * since unsubscribed), the body sent and the outcomes an answer records.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "store_chunks.h"
#include "tmpdir.h"

static struct db db = DB_INIT;

static void exec(const char *sql)
{
	struct err e = ERR_INIT;

	cr_assert_eq(db_exec(&db, sql, &e), MB_OK, "%s: %s", sql, e.msg);
}

static int64_t number(const char *sql)
{
	struct err e = ERR_INIT;
	int64_t n = -1;

	cr_assert_eq(db_int(&db, sql, &n, &e), MB_OK, "%s: %s", sql, e.msg);
	return n;
}

/*
 * Generation 1: a, b, c upserted, d pending, s suppressed at the source,
 * u upserted but on Meisa's unsubscribed list.
 */
static void setup(void)
{
	struct err e = ERR_INIT;

	tmpdir_make();
	cr_assert_eq(db_open(&db, tmpdir_path("stage.db"), DB_CREATE, &e),
		     MB_OK, "%s", e.msg);
	exec("INSERT INTO generations(id, started_at) VALUES"
	     " (1, '2026-01-01T00:00:00.000Z');"
	     "INSERT INTO contacts(id, email, body, input_id, line, gen, state,"
	     " source_status) VALUES"
	     " (1, 'a@x.com', '{}', 1, 2, 1, 'upserted', NULL),"
	     " (2, 'b@x.com', '{}', 1, 3, 1, 'upserted', NULL),"
	     " (3, 'c@x.com', '{}', 1, 4, 1, 'upserted', NULL),"
	     " (4, 'd@x.com', '{}', 1, 5, 1, 'pending', NULL),"
	     " (5, 's@x.com', '{}', 1, 6, 1, 'upserted', 'unsubscribed'),"
	     " (6, 'u@x.com', '{}', 1, 7, 1, 'upserted', NULL);"
	     "INSERT INTO unsubscribed VALUES ('u@x.com');");
}

static void teardown(void)
{
	db_close(&db);
	tmpdir_remove();
}

TestSuite(store_chunks, .init = setup, .fini = teardown);

Test(store_chunks, count_enrollable_and_open)
{
	int64_t enrollable = -1, open = -1;
	struct err e = ERR_INIT;

	exec("INSERT INTO chunks(sequence_slug, size) VALUES ('s', 1)");
	cr_assert_eq(store_chunks_count(&db, &enrollable, &open, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_eq(enrollable, 4);
	cr_expect_eq(open, 1);
}

Test(store_chunks, new_chunks_follow_the_cursor)
{
	int64_t id = -1, last = 0;
	struct buf body = BUF_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(store_chunks_next(&db, "onboarding", 0, 2, &id, &last,
				       &e), MB_OK, "%s", e.msg);
	cr_expect_gt(id, 0);
	cr_expect_eq(last, 2);
	cr_assert_eq(store_chunks_body(&db, "onboarding", id, &body, &e),
		     MB_OK, "%s", e.msg);
	cr_expect_str_eq(body.data, "{\"sequence_slug\":\"onboarding\","
			 "\"emails\":[\"a@x.com\",\"b@x.com\"]}");
	cr_expect_eq(number("SELECT size FROM chunks"), 2);
	/* Open: sent again before a new one is built. */
	cr_assert_eq(store_chunks_next(&db, "onboarding", last, 2, &id,
				       &last, &e), MB_OK, "%s", e.msg);
	cr_expect_eq(number("SELECT count(*) FROM chunks"), 1);
	cr_assert_eq(store_chunks_record(&db, id, 1, 200, "{}", NULL, &e),
		     MB_OK, "%s", e.msg);
	cr_assert_eq(store_chunks_next(&db, "onboarding", last, 2, &id,
				       &last, &e), MB_OK, "%s", e.msg);
	cr_expect_eq(last, 3);
	/* Nothing left after c: no chunk, and the cursor stays. */
	cr_assert_eq(store_chunks_record(&db, id, 1, 200, "{}", NULL, &e),
		     MB_OK, "%s", e.msg);
	cr_assert_eq(store_chunks_next(&db, "onboarding", last, 2, &id,
				       &last, &e), MB_OK, "%s", e.msg);
	cr_expect_eq(id, 0);
	cr_expect_eq(last, 3);
	cr_expect_eq(number("SELECT count(*) FROM chunks"), 2);
	buf_release(&body);
}

Test(store_chunks, a_resumed_chunk_loses_the_unsubscribed)
{
	int64_t id = -1, last = 0;
	struct err e = ERR_INIT;

	exec("INSERT INTO chunks(id, sequence_slug, size) VALUES (7, 's', 2);"
	     "UPDATE contacts SET chunk_id = 7 WHERE id IN (1, 6)");
	cr_assert_eq(store_chunks_next(&db, "s", 0, 500, &id, &last, &e),
		     MB_OK, "%s", e.msg);
	cr_expect_eq(id, 7);
	cr_expect_eq(last, 0);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE id = 6 AND"
			    " chunk_id IS NULL AND enroll_status ="
			    " 'suppressed'"), 1);
}

Test(store_chunks, answers_record_each_address)
{
	int64_t id = -1, last = 0;
	struct err e = ERR_INIT;

	cr_assert_eq(store_chunks_next(&db, "s", 0, 500, &id, &last, &e),
		     MB_OK, "%s", e.msg);
	cr_assert_eq(store_chunks_record(&db, id, 1, 200, "{\"results\": ["
					 "{\"email\": \"A@x.com\", \"status\":"
					 " \"enrolled\"}, {\"email\":"
					 " \"b@x.com\", \"status\":"
					 " \"already_enrolled\"}]}", NULL, &e),
		     MB_OK, "%s", e.msg);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE"
			    " (id = 1 AND enroll_status = 'enrolled') OR"
			    " (id = 2 AND enroll_status = 'already_enrolled')"
			    " OR (id = 3 AND enroll_status ="
			    " 'missing_from_answer')"), 3);
	cr_expect_eq(number("SELECT count(*) FROM chunks WHERE state ="
			    " 'acknowledged' AND http_status = 200"), 1);
}

Test(store_chunks, a_refused_chunk_fails_every_address)
{
	int64_t id = -1, last = 0;
	struct err e = ERR_INIT;

	cr_assert_eq(store_chunks_next(&db, "s", 0, 500, &id, &last, &e),
		     MB_OK, "%s", e.msg);
	cr_assert_eq(store_chunks_record(&db, id, 0, 422, "{}", "bad slug",
					 &e), MB_OK, "%s", e.msg);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE"
			    " enroll_status = 'failed' AND error = 'bad slug'"),
		     3);
	cr_expect_eq(number("SELECT count(*) FROM chunks WHERE state ="
			    " 'failed' AND http_status = 422 AND error ="
			    " 'bad slug'"), 1);
}
