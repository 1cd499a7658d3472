/*
 * Tests for json_add_string: a table of escapes, byte-for-byte agreement
 * with SQLite's json_quote(), round trips through json_extract(), and the
 * buffer left as it was when the cap is reached.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define S(lit) lit, sizeof(lit) - 1

struct json_case {
	const char *in;
	size_t len;
	const char *want;
};

static const struct json_case cases[] = {
	{ S(""), "\"\"" },
	{ S("plain"), "\"plain\"" },
	{ S("say \"hi\""), "\"say \\\"hi\\\"\"" },
	{ S("C:\\dir\\file"), "\"C:\\\\dir\\\\file\"" },
	{ S("a/b"), "\"a/b\"" },
	{ S("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"" },
	{ S("line 1\r\nline 2"), "\"line 1\\r\\nline 2\"" },
	{ S("\x01\x1f"), "\"\\u0001\\u001f\"" },
	{ S("\x0b\x1b"), "\"\\u000b\\u001b\"" },
	{ S("nul\0byte"), "\"nul\\u0000byte\"" },
	{ S("\x7f"), "\"\x7f\"" },
	{ S("\xc3\xb6mil M\xc3\xbcller"), "\"\xc3\xb6mil M\xc3\xbcller\"" },
	{ S("\xe2\x80\xa8\xe2\x80\xa9"), "\"\xe2\x80\xa8\xe2\x80\xa9\"" },
	{ S("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"" },
	{ S("\"\\\""), "\"\\\"\\\\\\\"\"" },
};

Test(json, table)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		cr_expect_eq(json_add_string(&b, cases[i].in, cases[i].len),
			     MB_OK);
		cr_expect_str_eq(buf_str(&b), cases[i].want, "case %zu", i);
		cr_expect_eq(b.len, strlen(cases[i].want));
	}
	buf_release(&b);
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
}

Test(json, appends)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, "[");
	cr_assert_eq(json_add_string(&b, S("a")), MB_OK);
	buf_addch(&b, ',');
	cr_assert_eq(json_add_string(&b, S("b\"")), MB_OK);
	buf_addch(&b, ']');
	cr_expect_str_eq(buf_str(&b), "[\"a\",\"b\\\"\"]");
	buf_release(&b);
}

Test(json, cap_leaves_buffer_unchanged)
{
	struct buf b = BUF_INIT;

	buf_init(&b, 16);
	buf_addstr(&b, "keep");
	/* too long before any escape */
	cr_expect_eq(json_add_string(&b, S("0123456789abcdef")), MB_ETOOBIG);
	cr_expect_str_eq(buf_str(&b), "keep");
	cr_expect_eq(b.len, 4);
	/* fits as raw text, overflows once escaped */
	cr_expect_eq(json_add_string(&b, S("\x01\x02")), MB_ETOOBIG);
	cr_expect_str_eq(buf_str(&b), "keep");
	cr_expect_eq(b.len, 4);
	/* overflows at the closing quote */
	cr_expect_eq(json_add_string(&b, S("\n012345678")), MB_ETOOBIG);
	cr_expect_str_eq(buf_str(&b), "keep");
	/* exactly full */
	cr_expect_eq(json_add_string(&b, S("01234567\n")), MB_OK);
	cr_expect_eq(b.len, 16);
	cr_expect_str_eq(buf_str(&b), "keep\"01234567\\n\"");
	buf_release(&b);
}

Test(json, cap_on_an_empty_buffer)
{
	struct buf b = BUF_INIT;

	buf_init(&b, 3);
	cr_expect_eq(json_add_string(&b, S("ab")), MB_ETOOBIG);
	cr_expect_eq(b.len, 0);
	cr_expect_str_eq(buf_str(&b), "");
	cr_expect_eq(json_add_string(&b, S("a")), MB_OK);
	cr_expect_str_eq(buf_str(&b), "\"a\"");
	buf_release(&b);
}

static sqlite3 *open_db(void)
{
	sqlite3 *db = NULL;

	cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	return db;
}

/* SQL text result of one statement with one text parameter. */
static void sql_text(sqlite3 *db, sqlite3_stmt *st, const char *p, size_t n,
		     struct buf *out)
{
	int rc;

	sqlite3_reset(st);
	cr_assert_eq(sqlite3_bind_text(st, 1, p, (int)n, SQLITE_TRANSIENT),
		     SQLITE_OK);
	rc = sqlite3_step(st);
	cr_assert_eq(rc, SQLITE_ROW, "%s", sqlite3_errmsg(db));
	buf_set(out, sqlite3_column_text(st, 0),
		(size_t)sqlite3_column_bytes(st, 0));
}

/* Every byte string of length 1 and 2 that is valid UTF-8 without NUL. */
Test(json, same_bytes_as_sqlite_json_quote)
{
	sqlite3 *db = open_db();
	sqlite3_stmt *st = NULL;
	struct buf ours = BUF_INIT, theirs = BUF_INIT;
	unsigned a, c;
	int compared = 0;

	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT json_quote(?)", -1, &st,
					NULL), SQLITE_OK);
	for (a = 1; a < 256; a++)
		for (c = 0; c < 256; c++) {
			char s[2] = { (char)a, (char)c };
			size_t n = c ? 2 : 1;

			/* skip non-UTF-8: a lone lead, a stray tail */
			if ((a >= 0x80 && !(a >= 0xc2 && a <= 0xdf &&
					    c >= 0x80 && c <= 0xbf)) ||
			    (a < 0x80 && c >= 0x80))
				continue;
			buf_reset(&ours);
			cr_assert_eq(json_add_string(&ours, s, n), MB_OK);
			sql_text(db, st, s, n, &theirs);
			cr_expect_str_eq(buf_str(&ours), buf_str(&theirs),
					 "bytes %02x %02x", a, c);
			compared++;
		}
	cr_expect_eq(compared, 127 * 128 + 30 * 64);
	sqlite3_finalize(st);
	sqlite3_close(db);
	buf_release(&ours);
	buf_release(&theirs);
}

static size_t put_utf8(char *dst, uint32_t cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | (cp >> 6));
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | (cp >> 12));
		dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | (cp >> 18));
	dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A random code point, weighted towards what needs escaping. */
static uint32_t random_cp(unsigned int *seed)
{
	static const char specials[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f";
	uint32_t cp;

	switch (rand_r(seed) % 6) {
	case 0:
		return (uint32_t)(unsigned char)
			specials[rand_r(seed) % (sizeof(specials) - 1)];
	case 1:
		return 1 + (uint32_t)rand_r(seed) % 0x1f;
	case 2:
		return 0x20 + (uint32_t)rand_r(seed) % 0x60;
	default:
		do
			cp = 1 + (uint32_t)rand_r(seed) % 0x10ffff;
		while (cp >= 0xd800 && cp <= 0xdfff);
		return cp;
	}
}

/*
 * json_extract(literal, '$') gives back the original text: the literal
 * is valid JSON and means exactly the input.  (NUL is left out: SQLite
 * text stops at an escaped NUL.)
 */
Test(json, round_trip_through_json_extract)
{
	sqlite3 *db = open_db();
	sqlite3_stmt *st = NULL;
	struct buf lit = BUF_INIT, back = BUF_INIT;
	char s[4 * 64];
	unsigned int seed = 4242;
	int round;

	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT json_extract(?, '$')",
					-1, &st, NULL), SQLITE_OK);
	for (round = 0; round < 20000; round++) {
		size_t n = 0, k, count = (size_t)rand_r(&seed) % 64;

		for (k = 0; k < count; k++)
			n += put_utf8(s + n, random_cp(&seed));
		buf_reset(&lit);
		cr_assert_eq(json_add_string(&lit, s, n), MB_OK);
		sql_text(db, st, lit.data, lit.len, &back);
		cr_assert_eq(back.len, n, "round %d: %s", round,
			     buf_str(&lit));
		cr_assert_eq(memcmp(back.data, s, n), 0, "round %d: %s", round,
			     buf_str(&lit));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	buf_release(&lit);
	buf_release(&back);
}

Test(json, large_value_round_trip)
{
	sqlite3 *db = open_db();
	sqlite3_stmt *st = NULL;
	struct buf lit = BUF_INIT, back = BUF_INIT;
	size_t n = (size_t)1 << 20, i;
	char *s = malloc(n);

	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		s[i] = (char)(i % 97 == 0 ? '\n' : 'a' + (char)(i % 26));
	cr_assert_eq(json_add_string(&lit, s, n), MB_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT json_extract(?, '$')",
					-1, &st, NULL), SQLITE_OK);
	sql_text(db, st, lit.data, lit.len, &back);
	cr_assert_eq(back.len, n);
	cr_assert_eq(memcmp(back.data, s, n), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	buf_release(&lit);
	buf_release(&back);
	free(s);
}
