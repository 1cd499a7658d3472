/*
 * Tests for utf8: the check refusing NUL (validate_utf8's, for CSV cells)
 * against Markus Kuhn's decoder stress cases and an exhaustive reference
 * comparison; the check allowing NUL (the sandbox's) and the longest valid
 * prefix (its lossy copy) against the same reference.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define S(lit) lit, sizeof(lit) - 1

static const char *show(const char *p, size_t n)
{
	static char out[1024];
	size_t i, o = 0;

	for (i = 0; i < n && o < sizeof(out) - 5; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

/* The check as validate_utf8 runs it on every CSV cell. */
static int no_nul(const char *p, size_t n)
{
	return utf8_valid(p, n, UTF8_NO_NUL);
}

/*
 * UTF-8.  Cases from Markus Kuhn's UTF-8 decoder capability and stress
 * test (UTF-8-test.txt), section numbers in the comments.
 */

struct utf8_case {
	const char *in;
	size_t len;
	int ok;
};

static const struct utf8_case utf8_cases[] = {
	{ S(""), 1 },
	{ S("plain ascii, 8+ bytes long"), 1 },
	{ S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), 1 }, /* 1 */
	/* 2.1 first possible sequence of each length */
	{ S("\x01"), 1 },
	{ S("\xc2\x80"), 1 },
	{ S("\xe0\xa0\x80"), 1 },
	{ S("\xf0\x90\x80\x80"), 1 },
	{ S("\xf8\x88\x80\x80\x80"), 0 },
	{ S("\xfc\x84\x80\x80\x80\x80"), 0 },
	/* 2.2 last possible sequence of each length */
	{ S("\x7f"), 1 },
	{ S("\xdf\xbf"), 1 },
	{ S("\xef\xbf\xbf"), 1 },
	{ S("\xf4\x8f\xbf\xbf"), 1 },
	{ S("\xf7\xbf\xbf\xbf"), 0 },
	{ S("\xfb\xbf\xbf\xbf\xbf"), 0 },
	{ S("\xfd\xbf\xbf\xbf\xbf\xbf"), 0 },
	/* 2.3 other boundary conditions */
	{ S("\xed\x9f\xbf"), 1 },
	{ S("\xee\x80\x80"), 1 },
	{ S("\xef\xbf\xbd"), 1 },
	{ S("\xf4\x90\x80\x80"), 0 },
	/* 3.1 unexpected continuation bytes */
	{ S("\x80"), 0 },
	{ S("\xbf"), 0 },
	{ S("\x80\xbf"), 0 },
	{ S("\x80\xbf\x80"), 0 },
	{ S("abc\x80\xbf\x80\xbf"), 0 },
	/* 3.2 lonely start characters */
	{ S("\xc0 "), 0 },
	{ S("\xdf "), 0 },
	{ S("\xe0 "), 0 },
	{ S("\xef "), 0 },
	{ S("\xf0 "), 0 },
	{ S("\xf7 "), 0 },
	{ S("\xf8 "), 0 },
	{ S("\xfc "), 0 },
	/* 3.3 sequences with the last continuation byte missing */
	{ S("\xc0"), 0 },
	{ S("\xe0\x80"), 0 },
	{ S("\xf0\x80\x80"), 0 },
	{ S("\xdf"), 0 },
	{ S("\xef\xbf"), 0 },
	{ S("\xf4\x8f\xbf"), 0 },
	{ S("\xe0\xa0"), 0 },
	{ S("\xf0\x90\x80"), 0 },
	{ S("\xe0\xa0" "a"), 0 },
	{ S("\xf0\x90\x80" "a"), 0 },
	/* 3.4 concatenation of incomplete sequences */
	{ S("\xc0\xe0\x80\xf0\x80\x80\xdf\xef\xbf\xf7\xbf\xbf"), 0 },
	/* 3.5 impossible bytes */
	{ S("\xfe"), 0 },
	{ S("\xff"), 0 },
	{ S("\xfe\xfe\xff\xff"), 0 },
	/* 4.1 overlong '/' */
	{ S("\xc0\xaf"), 0 },
	{ S("\xe0\x80\xaf"), 0 },
	{ S("\xf0\x80\x80\xaf"), 0 },
	{ S("\xf8\x80\x80\x80\xaf"), 0 },
	{ S("\xfc\x80\x80\x80\x80\xaf"), 0 },
	/* 4.2 maximum overlong sequences */
	{ S("\xc1\xbf"), 0 },
	{ S("\xe0\x9f\xbf"), 0 },
	{ S("\xf0\x8f\xbf\xbf"), 0 },
	/* 4.3 overlong NUL */
	{ S("\xc0\x80"), 0 },
	{ S("\xe0\x80\x80"), 0 },
	{ S("\xf0\x80\x80\x80"), 0 },
	/* 5.1 single UTF-16 surrogates */
	{ S("\xed\xa0\x80"), 0 },
	{ S("\xed\xad\xbf"), 0 },
	{ S("\xed\xae\x80"), 0 },
	{ S("\xed\xaf\xbf"), 0 },
	{ S("\xed\xb0\x80"), 0 },
	{ S("\xed\xbe\x80"), 0 },
	{ S("\xed\xbf\xbf"), 0 },
	/* 5.2 paired UTF-16 surrogates */
	{ S("\xed\xa0\x80\xed\xb0\x80"), 0 },
	{ S("\xed\xaf\xbf\xed\xbf\xbf"), 0 },
	/* 5.3 noncharacters are well-formed */
	{ S("\xef\xbf\xbe"), 1 },
	{ S("\xef\xb7\x90"), 1 },
	{ S("\xf4\x8f\xbf\xbe"), 1 },
	/* NUL, alone and hidden in the ASCII fast path */
	{ S("\0"), 0 },
	{ S("abcdefg\0hijklmnop"), 0 },
	{ S("abcdefghijklmno\0"), 0 },
	/* a sequence straddling an 8-byte word */
	{ S("abcdef\xe2\x82\xac" "ghijklmnop"), 1 },
	{ S("abcdefg\xf0\x9f\x98\x80" "hijklmnop"), 1 },
	{ S("abcdefg\xf0\x9f\x98" "hijklmnop"), 0 },
};

Test(utf8, kuhn_table)
{
	size_t i;

	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++)
		cr_expect_eq(no_nul(utf8_cases[i].in, utf8_cases[i].len),
			     utf8_cases[i].ok, "'%s' should be %s",
			     show(utf8_cases[i].in, utf8_cases[i].len),
			     utf8_cases[i].ok ? "valid" : "invalid");
}

/*
 * The obvious decoder, written from the definition: decode, then refuse
 * overlongs by comparing with the shortest form's range.
 */
static int ref_valid(const unsigned char *s, size_t n, int nul_ok)
{
	static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t i = 0, len, k;
	uint32_t cp;

	while (i < n) {
		if (s[i] == 0 && !nul_ok)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0)
			len = 2, cp = s[i] & 0x1f;
		else if ((s[i] & 0xf0) == 0xe0)
			len = 3, cp = s[i] & 0x0f;
		else if ((s[i] & 0xf8) == 0xf0)
			len = 4, cp = s[i] & 0x07;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min_cp[len] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static int ref_utf8(const unsigned char *s, size_t n)
{
	return ref_valid(s, n, 0);
}

Test(utf8, exhaustive_up_to_three_bytes)
{
	unsigned char b[3];
	unsigned a, c, d;
	long mismatches = 0;

	for (a = 0; a < 256; a++) {
		b[0] = (unsigned char)a;
		mismatches += no_nul((char *)b, 1) != ref_utf8(b, 1);
		for (c = 0; c < 256; c++) {
			b[1] = (unsigned char)c;
			mismatches += no_nul((char *)b, 2) !=
				      ref_utf8(b, 2);
			for (d = 0; d < 256; d++) {
				b[2] = (unsigned char)d;
				mismatches += no_nul((char *)b, 3) !=
					      ref_utf8(b, 3);
			}
		}
	}
	cr_assert_eq(mismatches, 0);
}

Test(utf8, four_byte_leads)
{
	static const unsigned char thirds[] = { 0x00, 0x41, 0x7f, 0x80, 0xa5,
						0xbf, 0xc0, 0xff };
	unsigned char b[4];
	unsigned a, c, k, d;
	long mismatches = 0;

	for (a = 0xe0; a < 256; a++)
		for (c = 0; c < 256; c++)
			for (k = 0; k < sizeof(thirds); k++)
				for (d = 0; d < 256; d++) {
					b[0] = (unsigned char)a;
					b[1] = (unsigned char)c;
					b[2] = thirds[k];
					b[3] = (unsigned char)d;
					mismatches +=
						no_nul((char *)b, 4) !=
						ref_utf8(b, 4);
				}
	cr_assert_eq(mismatches, 0);
}

/*
 * Random strings, mostly ASCII with UTF-8 sequences and stray bytes, at
 * every alignment: the fast path must agree with the reference wherever
 * the interesting byte falls.
 */
Test(utf8, random_against_reference)
{
	static const char *pieces[] = { "a", "abcdefgh", "\xc3\xa9",
		"\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\x80",
		"\xc0\xaf", "\xf4\x90\x80\x80", "\0", "\xe2\x82", "\xff",
		"\x7f", "\x01" };
	static const size_t lens[] = { 1, 8, 2, 3, 4, 3, 1, 2, 4, 1, 2, 1,
				       1, 1 };
	unsigned int seed = 12345;
	int round, valid = 0;

	for (round = 0; round < 200000; round++) {
		unsigned char buf[96];
		size_t n = 0, cut;

		while (n < sizeof(buf) - 8) {
			/* half the pieces are ASCII, the rest any piece */
			int r = rand_r(&seed) % 28;
			size_t k = r < 14 ? (size_t)r : (size_t)(r % 2);

			memcpy(buf + n, pieces[k], lens[k]);
			n += lens[k];
			if (rand_r(&seed) % 8 == 0)
				break;
		}
		cut = (size_t)rand_r(&seed) % (n + 1);
		valid += ref_utf8(buf, cut);
		cr_assert_eq(no_nul((char *)buf, cut),
			     ref_utf8(buf, cut), "'%s'",
			     show((char *)buf, cut));
	}
	/* both outcomes were exercised */
	cr_assert_gt(valid, 1000);
	cr_assert_lt(valid, 199000);
}

Test(utf8, every_position_in_the_fast_path)
{
	static const char *bad[] = { "\x80", "\0", "\xff", "\xc3" };
	char *p;
	size_t n, pos, b;

	for (n = 1; n <= 40; n++)
		for (pos = 0; pos < n; pos++)
			for (b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
				/* exact-size heap block: ASan sees overreads */
				p = malloc(n);
				cr_assert_not_null(p);
				memset(p, 'x', n);
				cr_assert_eq(no_nul(p, n), 1);
				p[pos] = bad[b][0];
				cr_expect_eq(no_nul(p, n), 0,
					     "n=%zu pos=%zu byte=%02x", n, pos,
					     (unsigned char)bad[b][0]);
				free(p);
			}
}

Test(utf8, truncated_at_the_end_of_the_buffer)
{
	static const char *tails[] = { "\xc3", "\xe2\x82", "\xf0\x9f\x98",
				       "\xe2", "\xf0", "\xf0\x9f" };
	size_t i, prefix;

	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++)
		for (prefix = 0; prefix < 17; prefix++) {
			size_t tl = strlen(tails[i]), n = prefix + tl;
			char *p = malloc(n);

			cr_assert_not_null(p);
			memset(p, 'y', prefix);
			memcpy(p + prefix, tails[i], tl);
			cr_expect_eq(no_nul(p, n), 0, "'%s'",
				     show(p, n));
			free(p);
		}
}

/* NUL allowed (the sandbox's check): every 1- to 3-byte string. */
Test(utf8, exhaustive_with_nul_allowed)
{
	unsigned char b[3];
	unsigned x, y, z;
	long mismatches = 0;

	for (x = 0; x < 256; x++) {
		b[0] = (unsigned char)x;
		mismatches += utf8_valid((char *)b, 1, 0) != ref_valid(b, 1, 1);
		for (y = 0; y < 256; y++) {
			b[1] = (unsigned char)y;
			mismatches += utf8_valid((char *)b, 2, 0) !=
				      ref_valid(b, 2, 1);
			for (z = 0; z < 256; z += 3) {
				b[2] = (unsigned char)z;
				mismatches += utf8_valid((char *)b, 3, 0) !=
					      ref_valid(b, 3, 1);
			}
		}
	}
	cr_assert_eq(mismatches, 0);
}

/* The valid prefix is the longest prefix the reference accepts. */
static size_t ref_prefix(const unsigned char *s, size_t n, int nul_ok)
{
	while (n && !ref_valid(s, n, nul_ok))
		n--;
	return n;
}

Test(utf8, valid_len_is_the_longest_valid_prefix)
{
	static const char *pieces[] = { "abcdefgh", "\xc3\xa9",
		"\xf0\x9f\x98\x80", "\xed\xa0\x80", "\x80", "\0",
		"\xe2\x82", "\xff" };
	static const size_t lens[] = { 8, 2, 4, 3, 1, 1, 2, 1 };
	unsigned int seed = 777;
	int round, flags;

	for (round = 0; round < 20000; round++) {
		unsigned char buf[48];
		size_t n = 0;

		while (n < sizeof(buf) - 8 && rand_r(&seed) % 6) {
			size_t k = (size_t)rand_r(&seed) % 8;

			memcpy(buf + n, pieces[k], lens[k]);
			n += lens[k];
		}
		for (flags = 0; flags < 2; flags++)
			cr_assert_eq(utf8_valid_len((char *)buf, n,
				     flags ? UTF8_NO_NUL : 0),
				     ref_prefix(buf, n, !flags), "'%s' %d",
				     show((char *)buf, n), flags);
	}
}

Test(utf8, char_len)
{
	cr_assert_eq(utf8_char_len("", 0), 0);
	cr_assert_eq(utf8_char_len("a", 1), 1);
	cr_assert_eq(utf8_char_len(S("\0")), 1);
	cr_assert_eq(utf8_char_len(S("\xc3\xa9x")), 2);
	cr_assert_eq(utf8_char_len(S("\xe2\x82\xac")), 3);
	cr_assert_eq(utf8_char_len(S("\xf0\x9f\x98\x80")), 4);
	cr_assert_eq(utf8_char_len(S("\xf0\x9f\x98")), 0);
	cr_assert_eq(utf8_char_len(S("\xc0\xaf")), 0);
	cr_assert_eq(utf8_char_len(S("\xed\xa0\x80")), 0);
	cr_assert_eq(utf8_char_len(S("\x80")), 0);
}
