/*
 * Unit tests for store_stage and store_inputs: the statements stage writes
 * a file with, on a real staging file, and their failures: a step that
 * fails is an error, never "no row".
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "store_inputs.h"
#include "store_stage.h"
#include "tmpdir.h"

TestSuite(store_stage, .init = tmpdir_make, .fini = tmpdir_remove);

/* A contact row with email addr, external_id ext (or NULL), line n. */
static struct store_contact contact(const char *addr, const char *ext,
				    unsigned long line)
{
	static char bodies[64][256];
	static unsigned next;
	char *body = bodies[next++ % 64];
	struct store_contact c;

	memset(&c, 0, sizeof(c));
	snprintf(body, sizeof(bodies[0]), "{\"email\":\"%s\","
		 "\"source\":\"import\"}", addr);
	c.email = addr;
	c.email_len = strlen(addr);
	c.ext = ext;
	c.ext_len = ext ? strlen(ext) : 0;
	c.body = body;
	c.body_len = strlen(body);
	c.line = line;
	return c;
}

/* A staging file with a generation and an input, a transaction open. */
static void open_file(struct db *db, int64_t *gen, int64_t *input)
{
	struct err e = ERR_INIT;

	cr_assert_eq(db_open(db, tmpdir_path("s.db"), DB_CREATE, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(store_inputs_bulk_begin(db, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(store_inputs_begin(db, 0, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(store_inputs_gen_open(db, 0, gen, &e), MB_OK, "%s",
		     e.msg);
	cr_assert_eq(store_inputs_add(db, "a.csv", 0, *gen, input, &e), MB_OK,
		     "%s", e.msg);
}

static int64_t count(struct db *db, const char *table)
{
	char sql[128];
	sqlite3_stmt *s;
	int64_t n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	cr_assert_eq(sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

struct seen {
	int calls, by_email;
	int64_t id, gen, input_id;
};

static void on_match(void *ctx, const struct store_stage_match *m)
{
	struct seen *seen = ctx;

	seen->calls++;
	seen->by_email = m->by_email;
	seen->id = m->id;
	seen->gen = m->gen;
	seen->input_id = m->input_id;
	cr_assert_str_eq(m->path, "a.csv");
}

Test(store_stage, insert_find_merge_reject)
{
	struct db db = DB_INIT;
	struct store_stage ss = STORE_STAGE_INIT;
	struct err e = ERR_INIT;
	struct store_contact a = contact("a@example.com", "x-1", 2);
	struct seen seen = { 0, 0, 0, 0, 0 };
	int64_t gen = 0, input = 0;
	int changed = -1;

	open_file(&db, &gen, &input);
	cr_assert_eq(store_stage_open(&ss, &db, gen, input, 0, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(store_stage_insert(&ss, &a, &changed, &e), MB_OK);
	cr_assert_eq(changed, 1);
	a.line = 3;     /* the same address again: the INSERT ignores it */
	cr_assert_eq(store_stage_insert(&ss, &a, &changed, &e), MB_OK);
	cr_assert_eq(changed, 0);
	cr_assert_eq(store_stage_find(&ss, a.email, NULL, on_match, &seen,
				      &e), MB_OK, "%s", e.msg);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.by_email, 1);
	cr_assert_eq(seen.gen, gen);
	cr_assert_eq(seen.input_id, input);
	cr_assert_eq(store_stage_merge(&ss, seen.id, &a, &e), MB_OK, "%s",
		     e.msg);
	cr_assert_eq(store_stage_reject(&ss, 4, "bad", "invalid_email", NULL,
					&e), MB_OK, "%s", e.msg);
	cr_assert_eq(store_stage_rebuild_merged(&ss, &e), MB_OK, "%s", e.msg);
	store_stage_close(&ss);
	store_stage_close(&ss);    /* idempotent */
	cr_assert_null(ss.find);
	cr_assert_eq(store_inputs_commit(&db, 0, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(count(&db, "contacts"), 1);
	cr_assert_eq(count(&db, "duplicates"), 1);
	cr_assert_eq(count(&db, "rejects"), 1);
	store_inputs_bulk_end(&db);
	db_close(&db);
}

/* A step that fails (here: another connection holds the file) used to
 * read as "no such contact" or "no such input". */
Test(store_stage, failed_step_is_an_error_not_no_row)
{
	struct db db = DB_INIT;
	struct store_stage ss = STORE_STAGE_INIT;
	struct err e = ERR_INIT;
	struct store_contact a = contact("a@example.com", NULL, 2);
	struct seen seen = { 0, 0, 0, 0, 0 };
	struct store_contact many[STORE_STAGE_MULTI];
	char addr[STORE_STAGE_MULTI][32];
	int64_t gen = 0, input = 0;
	int found = -1, went_in = -1, changed = 0, i;
	sqlite3 *other;

	open_file(&db, &gen, &input);
	cr_assert_eq(store_stage_open(&ss, &db, gen, input, 0, &e), MB_OK,
		     "%s", e.msg);
	for (i = 0; i < STORE_STAGE_MULTI; i++) {
		snprintf(addr[i], sizeof(addr[i]), "m%d@example.com", i);
		many[i] = contact(addr[i], NULL, (unsigned long)i + 10);
	}
	cr_assert_eq(store_stage_insert_many(&ss, many, &changed, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(changed, STORE_STAGE_MULTI);
	cr_assert_eq(store_stage_went_in(&ss, &many[3], &went_in, &e), MB_OK);
	cr_assert_eq(went_in, 1);
	went_in = -1;
	cr_assert_eq(store_inputs_commit(&db, 0, &e), MB_OK, "%s", e.msg);
	sqlite3_busy_timeout(db.sql, 0);
	cr_assert_eq(sqlite3_open(tmpdir_path("s.db"), &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(other));

	cr_assert_neq(store_stage_find(&ss, a.email, NULL, on_match, &seen,
				       &e), MB_OK);
	cr_assert_eq(seen.calls, 0);
	cr_assert_neq(store_stage_went_in(&ss, &a, &went_in, &e), MB_OK);
	cr_assert_eq(went_in, -1);       /* written only on success */
	cr_assert_neq(store_inputs_size_seen(&db, gen, 10, &found, &e), MB_OK);
	cr_assert_neq(store_inputs_find(&db, gen, 10, "00", &found, &e),
		      MB_OK);
	cr_assert_eq(found, -1);
	cr_assert(strstr(e.msg, "locked") != NULL, "%s", e.msg);

	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	store_stage_close(&ss);
	store_inputs_bulk_end(&db);
	db_close(&db);
}
