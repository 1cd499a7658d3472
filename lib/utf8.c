/*
 * utf8: UTF-8 well-formedness (see the header).  ASCII is skipped eight
 * bytes at a time and only multi-byte sequences take the careful path.
 */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * First byte at or after s that is not plain ASCII (a byte with the high
 * bit set, or a NUL unless nul_ok), or end.  The word test is the classic
 * "has a zero byte" trick or'ed with the high bits: non-zero when any of
 * the eight bytes is NUL or >= 0x80.
 */
static const unsigned char *skip_ascii(const unsigned char *s,
				       const unsigned char *end, int nul_ok)
{
	uint64_t v, stop;

	while (end - s >= 8) {
		memcpy(&v, s, 8);
		stop = v & HIGHS;
		if (!nul_ok)
			stop |= (v - ONES) & ~v & HIGHS;
		if (stop)
			break;
		s += 8;
	}
	while (s < end && *s < 0x80 && (*s || nul_ok))
		s++;
	return s;
}

/*
 * Length of the well-formed UTF-8 sequence of two or more bytes at s
 * (n bytes available), or 0 when it is ill-formed.  The second-byte ranges
 * are those of Unicode's table 3-7: they refuse overlongs (C0, C1, E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF) and code points past U+10FFFF (F4 90..,
 * F5..FF).
 */
static size_t seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

size_t utf8_valid_len(const char *p, size_t n, unsigned flags)
{
	const unsigned char *start = (const unsigned char *)p;
	const unsigned char *s = start, *end = start + n;
	int nul_ok = !(flags & UTF8_NO_NUL);
	size_t len;

	while (s < end) {
		s = skip_ascii(s, end, nul_ok);
		if (s == end || *s == '\0')
			break;
		len = seq_len(s, (size_t)(end - s));
		if (!len)
			break;
		s += len;
	}
	return (size_t)(s - start);
}

size_t utf8_char_len(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;

	if (!n)
		return 0;
	return s[0] < 0x80 ? 1 : seq_len(s, n);
}

int utf8_valid(const char *p, size_t n, unsigned flags)
{
	return utf8_valid_len(p, n, flags) == n;
}
