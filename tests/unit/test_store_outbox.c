/*
 * test_store_outbox: push's contacts in the staging file: the plan's
 * counts, the cursor over what is left to send (the latest generation
 * only, in id order), the answers it records, the marks of a run and the
 * outcomes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "store_outbox.h"
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
 * Generation 1 held old@ (not in generation 2); generation 2 holds a
 * pending, b upserted earlier, c failed, d skipped, e sent (in flight when
 * a run stopped) and u, pending but on Meisa's unsubscribed list.
 */
static void setup(void)
{
	struct err e = ERR_INIT;

	tmpdir_make();
	cr_assert_eq(db_open(&db, tmpdir_path("stage.db"), DB_CREATE, &e),
		     MB_OK, "%s", e.msg);
	exec("INSERT INTO generations(id, started_at, pushed_at) VALUES"
	     " (1, '2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z'),"
	     " (2, '2026-01-02T00:00:00.000Z', NULL);"
	     "INSERT INTO contacts(id, email, body, input_id, line, gen, state,"
	     " acked_gen, acked_at) VALUES"
	     " (1, 'old@x.com', '{\"email\":\"old@x.com\"}', 1, 2, 1,"
	     "  'pending', NULL, NULL),"
	     " (2, 'a@x.com', '{\"email\":\"a@x.com\"}', 2, 2, 2, 'pending',"
	     "  NULL, NULL),"
	     " (3, 'b@x.com', '{\"email\":\"b@x.com\"}', 2, 3, 2, 'upserted',"
	     "  1, '2026-01-01T00:30:00.000Z'),"
	     " (4, 'c@x.com', '{\"email\":\"c@x.com\"}', 2, 4, 2, 'failed',"
	     "  NULL, NULL),"
	     " (5, 'd@x.com', '{\"email\":\"d@x.com\"}', 2, 5, 2, 'skipped',"
	     "  NULL, NULL),"
	     " (6, 'e@x.com', '{\"email\":\"e@x.com\"}', 2, 6, 2, 'sent',"
	     "  NULL, NULL),"
	     " (7, 'u@x.com', '{\"email\":\"u@x.com\"}', 2, 7, 2, 'pending',"
	     "  NULL, NULL);"
	     "INSERT INTO unsubscribed VALUES ('u@x.com');"
	     /* Schema 4: not seen by the latest generation (db.h). */
	     "UPDATE contacts SET vanished = 1 WHERE gen < 2;");
}

static void teardown(void)
{
	db_close(&db);
	tmpdir_remove();
}

TestSuite(store_outbox, .init = setup, .fini = teardown);

Test(store_outbox, generation_is_the_latest)
{
	struct err e = ERR_INIT;
	int64_t gen = -1;

	cr_assert_eq(store_outbox_generation(&db, &gen, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(gen, 2);
}

Test(store_outbox, plan_counts_the_latest_generation_in_one_pass)
{
	struct store_plan_counts c;
	struct err e = ERR_INIT;

	cr_assert_eq(store_outbox_plan(&db, 2, 0, &c, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(c.pending, 3);
	cr_expect_eq(c.full_again, 0);
	cr_expect_eq(c.unchanged, 1);
	cr_expect_eq(c.skipped, 1);
	cr_expect_eq(c.suppressed, 1);
	cr_expect_eq(c.meisa_unsubscribed, 1);
	cr_expect_eq(c.failed, 1);
	/* --full sends b and c again, so none is unchanged or failed. */
	cr_assert_eq(store_outbox_plan(&db, 2, 1, &c, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(c.full_again, 2);
	cr_expect_eq(c.unchanged, 0);
	cr_expect_eq(c.failed, 0);
}

Test(store_outbox, cursor_walks_the_generation_in_id_order)
{
	struct store_outbox o = STORE_OUTBOX_INIT;
	struct store_contact c = STORE_CONTACT_INIT;
	struct err e = ERR_INIT;
	char got[64] = "";
	int64_t n = -1;

	cr_assert_eq(store_outbox_pending(&db, &n, &e), MB_OK, "%s", e.msg);
	cr_expect_eq(n, 3);
	cr_assert_eq(store_outbox_open(&o, &db, &e), MB_OK, "%s", e.msg);
	while (store_outbox_next(&o, c.id, 2, &c, &e) == MB_OK && !c.done)
		snprintf(got + strlen(got), sizeof(got) - strlen(got),
			 "%lld:%.3s,", (long long)c.id, c.body.data + 10);
	cr_assert_eq(e.rc, MB_OK, "%s", e.msg);
	cr_expect_str_eq(got, "2:a@x,6:e@x,7:u@x,");
	store_outbox_close(&o);
	store_contact_release(&c);
	cr_expect_null(c.body.data);
	cr_expect_null(o.next);
}

Test(store_outbox, answers_are_recorded)
{
	struct store_outbox o = STORE_OUTBOX_INIT;
	static const char answer[] = "{\"id\":\"m-a\"}";
	struct err e = ERR_INIT;

	cr_assert_eq(store_outbox_open(&o, &db, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(store_outbox_upserted(&o, 2, 201, 2, answer,
					   strlen(answer), &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(store_outbox_failed(&o, 6, 422, 1, "bad field", &e),
		     MB_OK, "%s", e.msg);
	store_outbox_close(&o);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE id = 2 AND"
			    " state = 'upserted' AND http_status = 201 AND"
			    " attempts = 2 AND meisa_id = 'm-a' AND acked_gen"
			    " = 2 AND acked_hash IS NOT NULL"), 1);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE id = 6 AND"
			    " state = 'failed' AND http_status = 422 AND"
			    " error = 'bad field'"), 1);
}

Test(store_outbox, begin_run_marks_and_puts_back)
{
	struct err e = ERR_INIT;

	cr_assert_eq(store_outbox_begin_run(&db, 1, 1, &e), MB_OK, "%s",
		     e.msg);
	cr_expect_eq(number("SELECT count(*) FROM generations WHERE id = 2"
			    " AND pushed_at IS NOT NULL AND full_since IS NOT"
			    " NULL"), 1);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE gen = 2 AND"
			    " state IN ('pending', 'sent')"), 5);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE id = 1 AND"
			    " state = 'pending'"), 1);
	cr_assert_eq(store_outbox_full_done(&db, &e), MB_OK, "%s", e.msg);
	cr_expect_eq(number("SELECT count(*) FROM generations WHERE"
			    " full_since IS NOT NULL"), 0);
}

/*
 * Regression (issue 15): unconfirmed contacts were upserted and enrolled
 * by default.  a (pending), e (sent) and u (pending, on Meisa's list) are
 * unconfirmed and unknown to Meisa: the run decides on them; b is
 * unconfirmed but acknowledged already, f do-not-email at the source:
 * neither moves.  c (failed) is decided on once --retry-failed or --full
 * puts it back.
 */
Test(store_outbox, unconfirmed_are_skipped_unless_included)
{
	struct store_unconfirmed u;
	struct err e = ERR_INIT;

	exec("UPDATE contacts SET unconfirmed = 1 WHERE id IN"
	     " (1, 2, 3, 4, 6, 7);"
	     "INSERT INTO contacts(id, email, body, input_id, line, gen,"
	     " state, source_status, unconfirmed) VALUES (8, 'f@x.com',"
	     " '{\"email\":\"f@x.com\"}', 2, 8, 2, 'skipped',"
	     " 'unsubscribed', 1)");
	cr_assert_eq(store_outbox_unconfirmed(&db, 2, 0, 0, &u, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_eq(u.pending, 3);
	cr_expect_eq(u.skipped, 0);
	cr_expect_eq(u.pending_enrollable, 2);
	cr_expect_eq(u.failed_full + u.failed_retry, 0);
	cr_assert_eq(store_outbox_unconfirmed(&db, 2, 1, 1, &u, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_eq(u.failed_full, 1);
	cr_expect_eq(u.failed_retry, 0);
	cr_assert_eq(store_outbox_unconfirmed(&db, 2, 0, 1, &u, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_eq(u.failed_retry, 1);
	cr_assert_eq(store_outbox_begin_run(&db, 0, 1, &e), MB_OK, "%s",
		     e.msg);
	cr_assert_eq(store_outbox_decide_unconfirmed(&db, 0, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE state ="
			    " 'skipped' AND id IN (2, 4, 5, 6, 7, 8)"), 6);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE id = 1 AND"
			    " state = 'pending'"), 1);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE id = 3 AND"
			    " state = 'upserted'"), 1);
	cr_assert_eq(store_outbox_unconfirmed(&db, 2, 0, 0, &u, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_eq(u.pending, 0);
	cr_expect_eq(u.skipped, 4);
	cr_expect_eq(u.skipped_enrollable, 3);
	cr_assert_eq(store_outbox_decide_unconfirmed(&db, 1, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE state ="
			    " 'pending' AND id IN (2, 4, 6, 7)"), 4);
	cr_expect_eq(number("SELECT count(*) FROM contacts WHERE state ="
			    " 'skipped'"), 2);
}

Test(store_outbox, outcomes_count_failures_and_unknown_enrollments)
{
	struct store_outcomes o;
	struct err e = ERR_INIT;

	exec("UPDATE contacts SET enroll_status = 'failed' WHERE id = 3;"
	     "UPDATE contacts SET enroll_status = 'missing_from_answer'"
	     " WHERE id = 2");
	cr_assert_eq(store_outbox_outcomes(&db, &o, &e), MB_OK, "%s", e.msg);
	cr_expect_eq(o.failed, 1);
	cr_expect_eq(o.enroll_refused, 1);
	cr_expect_eq(o.enroll_unknown, 1);
}
