/*
 * test_stage: the canonical body (C and SQL give the same bytes), the
 * canonical hash that decides what a nightly sync sends, and staging across
 * generations (new, replaced, unchanged, merged, missing, re-keyed rows).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "stage.h"
#include "store_stage.h"
#include "tmpdir.h"

/* ---- stage_body and store_stage_canonical_sql -------------------------- */

struct body_case {
	const char *name;
	const char *email, *external_id, *first, *last, *display;
	const char *custom;      /* canonical object text, keys sorted */
	const char *tags;        /* array text, first-seen order */
	const char *expected;    /* stage_body output */
};

static const struct body_case body_cases[] = {
	{ "minimal", "a@example.com", "", "", "", "", "{}", "[]",
	  "{\"email\":\"a@example.com\",\"source\":\"import\"}" },
	{ "every member", "b@example.com", "u1", "Ana", "Lima", "Ana L.",
	  "{\"plan\":\"pro\",\"seats\":3}", "[\"vip\",\"beta\"]",
	  "{\"email\":\"b@example.com\",\"external_id\":\"u1\","
	  "\"first_name\":\"Ana\",\"last_name\":\"Lima\","
	  "\"display_name\":\"Ana L.\",\"source\":\"import\","
	  "\"custom_fields\":{\"plan\":\"pro\",\"seats\":3},"
	  "\"tag_names\":[\"vip\",\"beta\"]}" },
	{ "escapes", "c@example.com", "", "Quote \" and \\ back", "Tab\there",
	  "line\r\nbreak \x01 \x1f", "{\"note\":\"a\\\"b\\\\c\\n\\u0001\"}",
	  "[\"q\\\"t\",\"\\t\"]",
	  "{\"email\":\"c@example.com\","
	  "\"first_name\":\"Quote \\\" and \\\\ back\","
	  "\"last_name\":\"Tab\\there\","
	  "\"display_name\":\"line\\r\\nbreak \\u0001 \\u001f\","
	  "\"source\":\"import\","
	  "\"custom_fields\":{\"note\":\"a\\\"b\\\\c\\n\\u0001\"},"
	  "\"tag_names\":[\"q\\\"t\",\"\\t\"]}" },
	{ "numbers as written", "d@example.com", "", "", "", "",
	  "{\"a\":480.00,\"b\":-12.5,\"c\":0,\"d\":\"1e5\",\"e\":true,"
	  "\"f\":false,\"g\":0.25,\"h\":9007199254740993}", "[]",
	  "{\"email\":\"d@example.com\",\"source\":\"import\","
	  "\"custom_fields\":{\"a\":480.00,\"b\":-12.5,\"c\":0,\"d\":\"1e5\","
	  "\"e\":true,\"f\":false,\"g\":0.25,\"h\":9007199254740993}}" },
	{ "unicode", "e@example.com", "", "Chloé", "Müller", "李小龙 😀",
	  "{\"city\":\"Zürich\",\"emoji\":\"🎉\"}", "[\"été\",\"😀\"]",
	  "{\"email\":\"e@example.com\",\"first_name\":\"Chloé\","
	  "\"last_name\":\"Müller\",\"display_name\":\"李小龙 😀\","
	  "\"source\":\"import\",\"custom_fields\":{\"city\":\"Zürich\","
	  "\"emoji\":\"🎉\"},\"tag_names\":[\"été\",\"😀\"]}" },
	{ "dates and key order", "f@example.com", "x-9", "", "", "",
	  "{\"a_b\":\"2019-03-01T10:00:00Z\",\"ab\":\"x\",\"b\":1}", "[]",
	  "{\"email\":\"f@example.com\",\"external_id\":\"x-9\","
	  "\"source\":\"import\",\"custom_fields\":{\"a_b\":"
	  "\"2019-03-01T10:00:00Z\",\"ab\":\"x\",\"b\":1}}" },
};

static void fill(struct record *rec, const struct body_case *c)
{
	record_init(rec);
	buf_set(&rec->email, c->email, strlen(c->email));
	buf_set(&rec->external_id, c->external_id, strlen(c->external_id));
	buf_set(&rec->first_name, c->first, strlen(c->first));
	buf_set(&rec->last_name, c->last, strlen(c->last));
	buf_set(&rec->display_name, c->display, strlen(c->display));
	buf_set(&rec->custom, c->custom, strlen(c->custom));
	buf_set(&rec->tags, c->tags, strlen(c->tags));
}

/* store_stage_canonical_sql applied to one body text, as a merge is. */
static char *sql_rebuild(sqlite3 *sql, const char *body)
{
	char query[4096];
	sqlite3_stmt *s;
	char *out;

	snprintf(query, sizeof(query), "SELECT %s FROM (SELECT ? AS body)",
		 store_stage_canonical_sql);
	cr_assert_eq(sqlite3_prepare_v2(sql, query, -1, &s, NULL), SQLITE_OK,
		     "%s", sqlite3_errmsg(sql));
	sqlite3_bind_text(s, 1, body, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sqlite3_errmsg(sql));
	out = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return out;
}

Test(body, c_and_sql_agree_byte_for_byte)
{
	sqlite3 *sql;
	size_t i;

	cr_assert_eq(sqlite3_open(":memory:", &sql), SQLITE_OK);
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *c = &body_cases[i];
		struct record rec;
		struct buf out = BUF_INIT;
		char *rebuilt;

		fill(&rec, c);
		cr_assert_eq(stage_body(&rec, "import", &out), MB_OK);
		cr_assert_str_eq(out.data, c->expected, "%s", c->name);
		rebuilt = sql_rebuild(sql, out.data);
		cr_assert_str_eq(rebuilt, out.data, "%s", c->name);
		cr_assert_eq(db_body_hash(rebuilt, strlen(rebuilt)),
			     db_body_hash(out.data, out.len), "%s", c->name);
		free(rebuilt);
		buf_release(&out);
		record_release(&rec);
	}
	sqlite3_close(sql);
}

/* A body merged by json_patch comes back in canonical order. */
Test(body, sql_restores_canonical_order)
{
	static const char *scrambled =
		"{\"tag_names\":[\"b\",\"a\"],\"custom_fields\":{\"z\":480.00,"
		"\"a\":\"x\\u0001\"},\"source\":\"import\",\"last_name\":\"L\","
		"\"email\":\"s@example.com\",\"first_name\":\"F\"}";
	static const char *canonical =
		"{\"email\":\"s@example.com\",\"first_name\":\"F\","
		"\"last_name\":\"L\",\"source\":\"import\",\"custom_fields\":"
		"{\"a\":\"x\\u0001\",\"z\":480.00},"
		"\"tag_names\":[\"b\",\"a\"]}";
	sqlite3 *sql;
	char *rebuilt;

	cr_assert_eq(sqlite3_open(":memory:", &sql), SQLITE_OK);
	rebuilt = sql_rebuild(sql, scrambled);
	cr_assert_str_eq(rebuilt, canonical);
	free(rebuilt);
	sqlite3_close(sql);
}

/* ---- the canonical hash ------------------------------------------------ */

static int64_t h(const char *json)
{
	return db_body_hash(json, strlen(json));
}

struct hash_pair {
	const char *a, *b;
	int same;
	const char *why;
};

static const struct hash_pair hash_pairs[] = {
	{ "{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", 1, "key order" },
	{ "{\"email\":\"x\",\"custom_fields\":{\"p\":1,\"q\":\"r\"}}",
	  "{\"custom_fields\":{\"q\":\"r\",\"p\":1},\"email\":\"x\"}", 1,
	  "nested key order" },
	{ "{\"tag_names\":[\"a\",\"b\",\"c\"]}",
	  "{\"tag_names\":[\"c\",\"a\",\"b\"]}", 1, "tag order" },
	{ "{\"n\":480}", "{\"n\":480.00}", 1, "trailing zeros" },
	{ "{\"n\":480.0}", "{\"n\":4.8e2}", 1, "exponent" },
	{ "{\"n\":480}", "{\"n\":4800E-1}", 1, "negative exponent" },
	{ "{\"n\":0.5}", "{\"n\":5e-1}", 1, "fraction" },
	{ "{\"n\":0}", "{\"n\":-0.000}", 1, "zero" },
	{ "{\"n\":1.05}", "{\"n\":1.050}", 1, "inner zero kept" },
	{ "{\"n\":-12.5}", "{\"n\":-1.25e+1}", 1, "negative" },
	{ " { \"a\" : [ 1 , 2 ] } ", "{\"a\":[2,1]}", 1, "whitespace" },
	{ "{\"s\":\"\\u00e9t\\u00e9\"}", "{\"s\":\"été\"}", 1, "\\u escape" },
	{ "{\"s\":\"\\ud83d\\ude00\"}", "{\"s\":\"😀\"}", 1, "surrogates" },
	{ "{\"s\":\"a\\/b\"}", "{\"s\":\"a/b\"}", 1, "\\/" },
	{ "{\"s\":\"a\\u000ab\"}", "{\"s\":\"a\\nb\"}", 1, "\\n spelled" },
	{ "{\"s\":\"0123456789abcdef\\u0041xyz\"}",
	  "{\"s\":\"0123456789abcdefAxyz\"}", 1, "escape inside a word" },
	{ "{\"n\":480}", "{\"n\":481}", 0, "value" },
	{ "{\"n\":1}", "{\"n\":10}", 0, "power of ten" },
	{ "{\"n\":0.1}", "{\"n\":0.01}", 0, "fraction digits" },
	{ "{\"n\":1}", "{\"n\":-1}", 0, "sign" },
	{ "{\"n\":480}", "{\"n\":\"480\"}", 0, "number or string" },
	{ "{\"b\":true}", "{\"b\":\"true\"}", 0, "bool or string" },
	{ "{\"b\":true}", "{\"b\":false}", 0, "bool" },
	{ "{\"z\":null}", "{}", 0, "null or absent" },
	{ "{\"a\":1,\"b\":2}", "{\"a\":1}", 0, "member removed" },
	{ "{\"a\":1,\"b\":2}", "{\"a\":2,\"b\":1}", 0, "values swapped" },
	{ "{\"t\":[\"a\",\"b\"]}", "{\"t\":[\"a\",\"b\",\"c\"]}", 0,
	  "tag added" },
	{ "{\"t\":[\"a\"]}", "{\"t\":[\"a\",\"a\"]}", 0, "element twice" },
	{ "{\"t\":[]}", "{\"t\":{}}", 0, "array or object" },
	{ "{\"s\":\"ab\"}", "{\"s\":\"a\",\"t\":\"b\"}", 0, "split string" },
	{ "{\"s\":\"\"}", "{\"s\":\"\\u0000\"}", 0, "empty or NUL" },
	{ "{\"k\":\"v\"}", "{\"v\":\"k\"}", 0, "key or value" },
	{ "{\"s\":\"0123456789abcdefX\"}", "{\"s\":\"0123456789abcdefY\"}", 0,
	  "after the first word" },
	{ "not json", "not json", 1, "raw bytes" },
	{ "not json", "not jsoN", 0, "raw bytes differ" },
	{ "{\"a\":1", "{\"a\":1}", 0, "truncated" },
	{ "{\"a\":1} x", "{\"a\":1}", 0, "trailing garbage" },
};

Test(hash, canonical_equivalence_table)
{
	size_t i;

	for (i = 0; i < sizeof(hash_pairs) / sizeof(hash_pairs[0]); i++) {
		const struct hash_pair *p = &hash_pairs[i];

		if (p->same)
			cr_expect_eq(h(p->a), h(p->b), "%s: %s vs %s", p->why,
				     p->a, p->b);
		else
			cr_expect_neq(h(p->a), h(p->b), "%s: %s vs %s",
				      p->why, p->a, p->b);
	}
}

/* Brackets nested depth deep, a space after the first when spaced. */
static void nested(char *out, size_t depth, int spaced)
{
	size_t i, k = 0;

	for (i = 0; i < depth; i++) {
		out[k++] = '[';
		if (spaced && i == 0)
			out[k++] = ' ';
	}
	for (i = 0; i < depth; i++)
		out[k++] = ']';
	out[k] = '\0';
}

/*
 * Text that is not JSON hashes as its bytes, read within its length: the
 * same bytes give the same hash, other bytes another one, and white space
 * counts (in JSON it would not).
 */
Test(hash, hostile_text_does_not_crash)
{
	static const char *bad[] = {
		"", "\"", "\"\\", "\"\\u12", "\"\\ud83d\\u", "{", "[", "[1,",
		"{\"a\"", "{\"a\":", "-", "1.", "1e", "1e+", "tru", "\"a\x01\"",
		"{\"a\":1,}", "[,]", "\"\\x\"",
	};
	size_t n = sizeof(bad) / sizeof(bad[0]), i, j;
	char deep[200], spaced[200];

	for (i = 0; i < n; i++) {
		size_t len = strlen(bad[i]);
		char *exact = malloc(len + 1), *pad = malloc(len + 2);

		cr_assert(exact && pad);
		memcpy(exact, bad[i], len);   /* no NUL: ASan sees overreads */
		cr_assert_eq(db_body_hash(exact, len), h(bad[i]), "%s", bad[i]);
		pad[0] = ' ';
		memcpy(pad + 1, bad[i], len + 1);
		cr_expect_neq(h(pad), h(bad[i]), "space before '%s'", bad[i]);
		for (j = 0; j < i; j++)
			cr_expect_neq(h(bad[i]), h(bad[j]), "'%s' vs '%s'",
				      bad[i], bad[j]);
		free(exact);
		free(pad);
	}
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	cr_expect_neq(h(deep), h(deep + 1), "unclosed brackets");
	/* Deeper than the reader goes: bytes; within it: JSON. */
	nested(deep, 40, 0);
	nested(spaced, 40, 1);
	cr_expect_neq(h(deep), h(spaced), "40 deep");
	nested(deep, 8, 0);
	nested(spaced, 8, 1);
	cr_expect_eq(h(deep), h(spaced), "8 deep");
	/* The length is honoured: no read past n, no need for a NUL. */
	cr_assert_eq(db_body_hash("{\"a\":1}XXXX", 7), h("{\"a\":1}"));
}

/*
 * The hash is stored in staging files (acked_hash): a change of its value
 * for the same body would make every nightly sync send everything.  If this
 * fails on purpose, bump DB_SCHEMA_VERSION and migrate the stored hashes.
 */
Test(hash, value_is_stable)
{
	cr_assert_eq(h("{\"email\":\"a@example.com\",\"source\":\"import\","
		       "\"custom_fields\":{\"plan\":\"pro\",\"score\":480.00},"
		       "\"tag_names\":[\"vip\",\"beta\"]}"),
		     (int64_t)-4874700108372884473LL);
}

/* ---- staging across generations --------------------------------------- */

static char dbpath[128];

static void setup(void)
{
	tmpdir_make();
	snprintf(dbpath, sizeof(dbpath), "%s", tmpdir_path("stage.db"));
}

static const char *write_file(const char *name, const char *text)
{
	return tmpdir_write(name, text, strlen(text));
}

/* As stage(); bulk_min_bytes 1: a first load always loads first. */
static enum mb_rc stage_bulk(struct db *db, const char *path,
			     struct stage_counts *counts, uint64_t min_bytes)
{
	struct stage_opts opts;
	struct err e = ERR_INIT;
	enum mb_rc rc;

	memset(&opts, 0, sizeof(opts));
	opts.map.preset = "auto";
	opts.source = "import";
	opts.bulk_min_bytes = min_bytes;
	rc = stage_files(db, &opts, &path, 1, counts, &e);
	cr_assert_eq(rc, MB_OK, "%s", e.msg);
	return rc;
}

static enum mb_rc stage(struct db *db, const char *path,
			struct stage_counts *counts)
{
	struct stage_opts opts;
	struct err e = ERR_INIT;
	enum mb_rc rc;

	memset(&opts, 0, sizeof(opts));
	opts.map.preset = "auto";
	opts.source = "import";
	rc = stage_files(db, &opts, &path, 1, counts, &e);
	cr_assert_eq(rc, MB_OK, "%s", e.msg);
	return rc;
}

static int64_t q(struct db *db, const char *sql)
{
	struct err e = ERR_INIT;
	int64_t v = -1;

	cr_assert_eq(db_int(db, sql, &v, &e), MB_OK, "%s: %s", sql, e.msg);
	return v;
}

static void exec(struct db *db, const char *sql)
{
	struct err e = ERR_INIT;

	cr_assert_eq(db_exec(db, sql, &e), MB_OK, "%s", e.msg);
}

/* What push records when Meisa acknowledges every pending contact. */
static void ack_all(struct db *db)
{
	exec(db, "UPDATE contacts SET state = 'upserted', attempts = attempts"
	     " + 1, body_hash = coalesce(body_hash, mb_body_hash(body)),"
	     " acked_hash = coalesce(body_hash, mb_body_hash(body)),"
	     " acked_gen = (SELECT max(id) FROM generations), acked_at ="
	     " strftime('%Y-%m-%dT%H:%M:%fZ'), acked_fields = (SELECT"
	     " json_group_array(k) FROM (SELECT key AS k FROM"
	     " json_each(contacts.body, '$.custom_fields') UNION SELECT value"
	     " FROM json_each(coalesce(contacts.acked_fields, '[]'))"
	     " ORDER BY 1)) WHERE state IN ('pending', 'sent');"
	     "UPDATE generations SET pushed_at = 'now'"
	     " WHERE pushed_at IS NULL");
}

/*
 * A contact's state and generation (schema 4: a contact not vanished is in
 * the latest generation, whatever generation last wrote its row).
 */
static const char *state_of(struct db *db, const char *email)
{
	static char state[32];
	char sql[256];
	sqlite3_stmt *s;

	snprintf(sql, sizeof(sql), "SELECT state || '/' || CASE WHEN vanished"
		 " THEN gen ELSE (SELECT max(id) FROM generations) END FROM"
		 " contacts WHERE email = '%s'", email);
	cr_assert_eq(sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL),
		     SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(state, sizeof(state), "%s", sqlite3_column_text(s, 0));
	else
		snprintf(state, sizeof(state), "none");
	sqlite3_finalize(s);
	return state;
}

TestSuite(generations, .init = setup, .fini = tmpdir_remove);

Test(generations, second_night_replaces_diffs_and_reports)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct stage_counts c;

	cr_assert_eq(db_open(&db, dbpath, DB_CREATE, &e), MB_OK, "%s", e.msg);
	stage(&db, write_file("n1.csv",
		"user_id,email,first_name,plan,score,status,tags\n"
		"u1,same@example.com,Ana,pro,480.00,active,a;b\n"
		"u2,changed@example.com,Ben,free,1,active,\n"
		"u3,gone@example.com,Cy,pro,2,active,\n"
		"u4,cleared@example.com,Di,team,3,active,\n"
		"u5,unsub@example.com,Ed,pro,4,unsubscribed,\n"), &c);
	cr_assert_eq(c.generation, 1);
	cr_assert_eq(c.new_generation, 1);
	cr_assert_eq(c.contacts_new, 5);
	/* Nothing to compare with yet: a first night is not hashed. */
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE body_hash IS"
		       " NULL"), 5);
	/* Before a push, another file joins the same generation. */
	stage(&db, write_file("n1b.csv", "email,first_name\n"
			      "extra@example.com,X\n"), &c);
	cr_assert_eq(c.generation, 1);
	cr_assert_eq(c.new_generation, 0);
	ack_all(&db);

	stage(&db, write_file("n2.csv",
		"user_id,email,first_name,plan,score,status,tags\n"
		"u4,cleared@example.com,Di,,3,active,\n"
		"u6,new@example.com,Flo,pro,5,active,\n"
		"u1,same@example.com,Ana,pro,480.0,active,b;a\n"
		"u5,unsub@example.com,Ed,pro,4,unsubscribed,\n"
		"u2,changed@example.com,Ben,pro,1,active,\n"
		"u2,CHANGED@example.com,Benjamin,,,active,c\n"), &c);
	cr_assert_eq(c.generation, 2);
	cr_assert_eq(c.new_generation, 1);
	cr_assert_eq(c.contacts_new, 1);
	cr_assert_eq(c.contacts_updated, 4);
	cr_assert_eq(c.duplicates, 1);
	cr_assert_str_eq(state_of(&db, "same@example.com"), "upserted/2");
	cr_assert_str_eq(state_of(&db, "changed@example.com"), "pending/2");
	cr_assert_str_eq(state_of(&db, "cleared@example.com"), "pending/2");
	cr_assert_str_eq(state_of(&db, "unsub@example.com"), "skipped/2");
	cr_assert_str_eq(state_of(&db, "new@example.com"), "pending/2");
	cr_assert_str_eq(state_of(&db, "gone@example.com"), "upserted/1");
	cr_assert_str_eq(state_of(&db, "extra@example.com"), "upserted/1");
	/*
	 * Unchanged (a cosmetic difference only) is read and compared, not
	 * rewritten: its row keeps the generation that wrote it and the
	 * night records that it saw it, where.  The vanished are written.
	 */
	cr_assert_eq(q(&db, "SELECT gen FROM contacts WHERE email ="
		       " 'same@example.com'"), 1);
	cr_assert_eq(q(&db, "SELECT count(*) FROM seen WHERE gen = 2"), 1);
	cr_assert_eq(q(&db, "SELECT line FROM seen WHERE gen = 2 AND id ="
		       " (SELECT id FROM contacts WHERE email ="
		       " 'same@example.com')"), 4);
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE vanished"
		       " AND gen = 1"), 2);
	/* The duplicate merged into the replaced body, not last night's. */
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE email ="
		       " 'changed@example.com' AND body = '{\"email\":"
		       "\"changed@example.com\",\"external_id\":\"u2\","
		       "\"first_name\":\"Benjamin\",\"source\":\"import\","
		       "\"custom_fields\":{\"plan\":\"pro\",\"score\":1},"
		       "\"tag_names\":[\"c\"]}'"), 1);
	/*
	 * Every stored hash is the hash of the stored body, both paths; a
	 * second generation hashes every row it stages.
	 */
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE body_hash <>"
		       " mb_body_hash(body)"), 0);
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE gen = 2 AND"
		       " body_hash IS NULL"), 0);
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE cleared IS"
		       " NOT NULL"), 1);
	cr_assert_eq(q(&db, "SELECT cleared = '[\"plan\"]' FROM contacts WHERE"
		       " email = 'cleared@example.com'"), 1);
	/* Duplicates and rejects are of this generation's inputs only. */
	cr_assert_eq(q(&db, "SELECT count(*) FROM duplicates WHERE input_id IN"
		       " (SELECT id FROM inputs WHERE gen = 2)"), 1);
	db_close(&db);
}

Test(generations, rerun_skips_and_old_file_is_a_new_night)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct stage_counts c;
	const char *a, *b;

	a = write_file("a.csv", "email,plan\nx@example.com,pro\n"
		       "y@example.com,pro\n");
	b = write_file("b.csv", "email,plan\nx@example.com,team\n");
	cr_assert_eq(db_open(&db, dbpath, DB_CREATE, &e), MB_OK, "%s", e.msg);
	stage(&db, a, &c);
	stage(&db, a, &c);       /* open generation: skipped */
	cr_assert_eq(c.files_skipped, 1);
	cr_assert_eq(c.generation, 1);
	ack_all(&db);
	stage(&db, a, &c);       /* pushed, same files: a re-run */
	cr_assert_eq(c.files_skipped, 1);
	cr_assert_eq(c.files_staged, 0);
	cr_assert_eq(c.generation, 1);
	stage(&db, b, &c);
	cr_assert_eq(c.generation, 2);
	cr_assert_str_eq(state_of(&db, "x@example.com"), "pending/2");
	ack_all(&db);
	stage(&db, a, &c);       /* last night's dump is a new night */
	cr_assert_eq(c.files_staged, 1);
	cr_assert_eq(c.generation, 3);
	cr_assert_str_eq(state_of(&db, "x@example.com"), "pending/3");
	cr_assert_str_eq(state_of(&db, "y@example.com"), "upserted/3");
	cr_assert_eq(q(&db, "SELECT count(*) FROM inputs WHERE path LIKE"
		       " '%a.csv'"), 2);
	db_close(&db);
}

Test(generations, address_change_rekeys_and_conflicts_still_reject)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct stage_counts c;

	cr_assert_eq(db_open(&db, dbpath, DB_CREATE, &e), MB_OK, "%s", e.msg);
	stage(&db, write_file("n1.csv", "user_id,email\nu1,old@example.com\n"
			      "u2,b@example.com\nu3,c@example.com\n"), &c);
	ack_all(&db);
	stage(&db, write_file("n2.csv", "user_id,email\nu1,new@example.com\n"
			      "u3,c@example.com\nu2,c2@example.com\n"
			      "u3,c3@example.com\n"), &c);
	/* u1 moved address: the same contact, re-keyed, to send. */
	cr_assert_str_eq(state_of(&db, "old@example.com"), "none");
	cr_assert_str_eq(state_of(&db, "new@example.com"), "pending/2");
	cr_assert_eq(q(&db, "SELECT id FROM contacts WHERE external_id ="
		       " 'u1'"), 1);
	/* u2 too; u3 is seen tonight, so another address for it conflicts. */
	cr_assert_str_eq(state_of(&db, "c2@example.com"), "pending/2");
	cr_assert_str_eq(state_of(&db, "c@example.com"), "upserted/2");
	cr_assert_eq(c.rejected, 1);
	cr_assert_eq(c.contacts_updated, 3);
	cr_assert_eq(q(&db, "SELECT count(*) FROM rejects WHERE reason ="
		       " 'external_id_conflict' AND email = 'c3@example.com'"),
		     1);
	db_close(&db);
}

Test(generations, failed_enrollments_are_retried_next_night)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct stage_counts c;

	cr_assert_eq(db_open(&db, dbpath, DB_CREATE, &e), MB_OK, "%s", e.msg);
	stage(&db, write_file("n1.csv", "email\na@example.com\n"
			      "b@example.com\n"), &c);
	ack_all(&db);
	/* As push records a chunk Meisa refused (a@) and one it took (b@). */
	exec(&db, "INSERT INTO chunks(id, sequence_slug, state, size) VALUES"
	     " (1, 'onboarding', 'failed', 1), (2, 'onboarding',"
	     " 'acknowledged', 1);"
	     "UPDATE contacts SET chunk_id = 1, enroll_status = 'failed'"
	     " WHERE email = 'a@example.com';"
	     "UPDATE contacts SET chunk_id = 2, enroll_status = 'enrolled'"
	     " WHERE email = 'b@example.com'");
	stage(&db, write_file("n2.csv", "email\na@example.com\n"
			      "b@example.com\nc@example.com\n"), &c);
	cr_assert_eq(q(&db, "SELECT count(*) FROM contacts WHERE chunk_id IS"
		       " NULL AND enroll_status IS NULL"), 2);
	cr_assert_eq(q(&db, "SELECT enroll_status = 'enrolled' FROM contacts"
		       " WHERE email = 'b@example.com'"), 1);
	db_close(&db);
}

/* Everything a stage decided about input `path`, as one text. */
static char *outcome(struct db *db)
{
	static const char sql[] =
		"SELECT (SELECT group_concat(x, char(10)) FROM (SELECT"
		" email || ',' || coalesce(external_id, '-') || ',' || state"
		" || ',' || line || ',' || body AS x FROM contacts WHERE"
		" email <> 'zz@example.org' ORDER BY id)) || char(10) ||"
		" (SELECT group_concat(x, char(10)) FROM (SELECT line || ','"
		" || coalesce(email, '-') || ',' || reason || ',' ||"
		" coalesce(detail, '-') AS x FROM rejects ORDER BY line, id))"
		" || char(10) || (SELECT group_concat(x, char(10)) FROM"
		" (SELECT d.line || ',' || d.email || ',' || c.line AS x FROM"
		" duplicates d JOIN contacts c ON c.id = d.contact_id ORDER BY"
		" d.line))";
	sqlite3_stmt *s;
	char *text;

	cr_assert_eq(sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(db->sql));
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	text = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return text;
}

/*
 * A first stage into an empty file loads the rows and builds the unique
 * indexes once at the end (schema 4 names them so that they can be
 * dropped); its duplicates and conflicts are what staging row by row with
 * the indexes in place finds, line numbers and all.
 */
Test(generations, first_load_indexes_once_and_finds_the_same)
{
	struct db a = DB_INIT, b = DB_INIT;
	struct err e = ERR_INIT;
	struct stage_counts ca, cb;
	struct buf csv = BUF_INIT;
	const char *path;
	char *oa, *ob;
	int i;

	cr_assert_eq(buf_addstr(&csv, "user_id,email,first_name,tags\n"),
		     MB_OK);
	for (i = 0; i < 70; i++)
		cr_assert_eq(buf_printf(&csv, "u%d,p%d@example.com,P%d,t\n",
					i, i, i), MB_OK);
	cr_assert_eq(buf_addstr(&csv,
		"u1,p1@example.com,Again,s\n"      /* duplicate */
		"u900,not-an-address,X,\n"         /* reject */
		"u7,q7@example.com,Q,\n"           /* u7's external_id */
		"u901,p9@example.com,R,\n"         /* p9's address */
		"u2,P2@Example.com,,x\n"), MB_OK); /* duplicate, merged */
	path = write_file("first.csv", csv.data);
	cr_assert_eq(db_open(&a, dbpath, DB_CREATE, &e), MB_OK, "%s", e.msg);
	stage_bulk(&a, path, &ca, 1);
	cr_assert_eq(db_open(&b, tmpdir_path("b.db"), DB_CREATE, &e), MB_OK,
		     "%s", e.msg);
	stage(&b, write_file("pre.csv", "email\nzz@example.org\n"), &cb);
	stage_bulk(&b, path, &cb, 1);
	oa = outcome(&a);
	ob = outcome(&b);
	cr_assert_str_eq(oa, ob);
	cr_assert_eq(ca.contacts_new, cb.contacts_new);
	cr_assert_eq(ca.duplicates, 2);
	cr_assert_eq(ca.duplicates, cb.duplicates);
	cr_assert_eq(ca.rejected, cb.rejected);
	cr_assert_eq(q(&a, "SELECT count(*) FROM sqlite_master WHERE name IN"
		       " ('contacts_email', 'contacts_external_id')"), 2);
	free(oa);
	free(ob);
	buf_release(&csv);
	db_close(&a);
	db_close(&b);
}
