/*
 * bodyhash: the canonical hash of a contact's JSON body.
 *
 * bodyhash tells whether two bodies mean the same thing, however they are
 * written, so that a night's re-stage can tell a changed contact from an
 * unchanged one.  db offers it to SQL as mb_body_hash(text).  The hash is
 * stored in the staging file (contacts.body_hash, contacts.acked_hash), so
 * it is part of the format: changing it needs a schema version.
 */
#include "bodyhash.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A small recursive reader over the JSON text that hashes as it goes.
 * Members and elements are combined by addition of well-mixed 64-bit
 * values, which makes the result independent of their order.  Bodies are
 * two levels deep; HASH_DEPTH_MAX only guards against hostile text.
 *
 * Strings and numbers are hashed 8 bytes at a time (a multiply and a shift
 * per word, not per byte: the hash runs for every staged row).  The words
 * are cut from the decoded byte sequence, not from the text, so where an
 * escape splits the text does not matter.
 */
#define HASH_DEPTH_MAX 32
#define WORD_MUL 0x9e3779b97f4a7c15ULL

struct jhash {
	const unsigned char *p, *end;
	int depth;
	int bad;
};

/* A byte sequence being hashed. */
struct words {
	uint64_t h;
	uint64_t acc;            /* up to 7 bytes not yet folded in */
	unsigned nacc;
	uint64_t len;
};

/* MurmurHash3's finaliser: every input bit flips each output bit. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static void words_init(struct words *w, uint64_t seed)
{
	w->h = seed * WORD_MUL;
	w->acc = 0;
	w->nacc = 0;
	w->len = 0;
}

static void words_fold(struct words *w, uint64_t word)
{
	w->h = (w->h ^ word) * WORD_MUL;
	w->h ^= w->h >> 29;
}

static void words_byte(struct words *w, unsigned char c)
{
	w->acc |= (uint64_t)c << (8 * w->nacc);
	w->len++;
	if (++w->nacc == 8) {
		words_fold(w, w->acc);
		w->acc = 0;
		w->nacc = 0;
	}
}

/* Little-endian load, so that a hash is the same on every machine. */
static uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Nonzero when a byte of v ends a plain run: '"', '\\' or below 0x20. */
static uint64_t special_bytes(uint64_t v)
{
	uint64_t quote = v ^ (ONES * '"'), slash = v ^ (ONES * '\\');

	return ((quote - ONES) & ~quote & HIGHS) |
	       ((slash - ONES) & ~slash & HIGHS) |
	       ((v - ONES * 0x20) & ~v & HIGHS);
}

static void words_add(struct words *w, const unsigned char *p, size_t n)
{
	while (n && w->nacc) {
		words_byte(w, *p++);
		n--;
	}
	w->len += n & ~(size_t)7;
	for (; n >= 8; p += 8, n -= 8)
		words_fold(w, load64(p));
	while (n--)
		words_byte(w, *p++);
}

/* Not fully mixed: the member or element that holds it is (see below). */
static uint64_t words_end(struct words *w)
{
	words_fold(w, w->acc);
	words_fold(w, w->len);
	return w->h;
}

static void skip_ws(struct jhash *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int hex4(const unsigned char *p, const unsigned char *end,
		uint32_t *out)
{
	uint32_t v = 0;
	int i;

	if (end - p < 4)
		return 0;
	for (i = 0; i < 4; i++) {
		unsigned c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return 0;
	}
	*out = v;
	return 1;
}

static void words_utf8(struct words *w, uint32_t cp)
{
	if (cp < 0x80) {
		words_byte(w, (unsigned char)cp);
	} else if (cp < 0x800) {
		words_byte(w, (unsigned char)(0xc0 | cp >> 6));
		words_byte(w, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		words_byte(w, (unsigned char)(0xe0 | cp >> 12));
		words_byte(w, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		words_byte(w, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		words_byte(w, (unsigned char)(0xf0 | cp >> 18));
		words_byte(w, (unsigned char)(0x80 | (cp >> 12 & 0x3f)));
		words_byte(w, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		words_byte(w, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

/* One escape after the backslash at j->p; its character into w. */
static void hash_escape(struct jhash *j, struct words *w)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	uint32_t cp, lo;
	const char *k;

	if (j->end - j->p < 2) {
		j->bad = 1;
		return;
	}
	if (j->p[1] != 'u') {
		k = j->p[1] ? strchr(from, j->p[1]) : NULL;
		if (!k) {
			j->bad = 1;
			return;
		}
		words_byte(w, (unsigned char)to[k - from]);
		j->p += 2;
		return;
	}
	if (!hex4(j->p + 2, j->end, &cp)) {
		j->bad = 1;
		return;
	}
	j->p += 6;
	/* A surrogate pair is one character; a lone half stays as it is. */
	if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 &&
	    j->p[0] == '\\' && j->p[1] == 'u' &&
	    hex4(j->p + 2, j->end, &lo) && lo >= 0xdc00 && lo < 0xe000) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		j->p += 6;
	}
	words_utf8(w, cp);
}

/*
 * The string literal at j->p (its opening quote), by its characters.  Runs
 * of plain bytes are checked and folded in 8 at a time.
 */
static uint64_t hash_string(struct jhash *j)
{
	const unsigned char *end = j->end;
	struct words w;
	uint64_t v, stop;
	unsigned n;

	words_init(&w, 's');
	j->p++;
	while (!j->bad) {
		while (!w.nacc && end - j->p >= 8) {
			v = load64(j->p);
			stop = special_bytes(v);
			if (!stop) {
				words_fold(&w, v);
				w.len += 8;
				j->p += 8;
				continue;
			}
			/* The plain bytes before the first special one. */
			n = (unsigned)__builtin_ctzll(stop) / 8;
			w.acc = n ? v & (~0ULL >> (64 - 8 * n)) : 0;
			w.nacc = n;
			w.len += n;
			j->p += n;
			break;
		}
		if (j->p >= end || *j->p < 0x20) {
			j->bad = 1;
		} else if (*j->p == '"') {
			j->p++;
			break;
		} else if (*j->p == '\\') {
			hash_escape(j, &w);
		} else {
			words_byte(&w, *j->p++);
		}
	}
	return words_end(&w);
}

static int is_digit(const struct jhash *j)
{
	return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

static void number_exponent(struct jhash *j, int64_t *exponent)
{
	int negative = 0;

	j->p++;
	if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
		negative = *j->p++ == '-';
	if (!is_digit(j))
		j->bad = 1;
	for (; is_digit(j); j->p++)
		if (*exponent < 1000000000000LL)
			*exponent = *exponent * 10 + (*j->p - '0');
	if (negative)
		*exponent = -*exponent;
}

/*
 * A number by value: its significant digits D (no leading or trailing
 * zeros) and the power of ten P with value = D * 10^P.  480.00, 480 and
 * 4.8e2 are all D = 48, P = 1.
 */
static uint64_t hash_number(struct jhash *j)
{
	int64_t power = 0, exponent = 0, zeros = 0, digits = 0;
	int fraction = 0, i;
	struct words w;

	words_init(&w, 'n');
	if (*j->p == '-') {
		words_byte(&w, '-');
		j->p++;
	}
	if (!is_digit(j))
		j->bad = 1;
	for (;;) {
		while (is_digit(j)) {
			unsigned char d = *j->p++;

			if (fraction)
				power--;
			if (d == '0') {
				zeros += digits > 0;
				continue;
			}
			for (; zeros; zeros--)
				words_byte(&w, '0');
			words_byte(&w, d);
			digits++;
		}
		if (fraction || j->p >= j->end || *j->p != '.')
			break;
		j->p++;
		fraction = 1;
		if (!is_digit(j))
			j->bad = 1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E'))
		number_exponent(j, &exponent);
	if (!digits)
		return mix(0x7a65726fULL);    /* 0, -0, 0.000, 0e5 */
	power += zeros + exponent;
	words_byte(&w, 'e');
	for (i = 0; i < 64; i += 8)
		words_byte(&w, (unsigned char)((uint64_t)power >> i));
	return words_end(&w);
}

static uint64_t hash_value(struct jhash *j);

/* An object or an array at j->p: its members or elements in any order. */
static uint64_t hash_container(struct jhash *j, int object)
{
	unsigned char close = object ? '}' : ']';
	uint64_t sum = 0, count = 0, key, value;

	j->p++;
	if (++j->depth > HASH_DEPTH_MAX) {
		j->bad = 1;
		return 0;
	}
	skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		goto out;
	}
	while (!j->bad) {
		skip_ws(j);
		key = 0;
		if (object) {
			if (j->p >= j->end || *j->p != '"') {
				j->bad = 1;
				break;
			}
			key = hash_string(j);
			skip_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				j->bad = 1;
				break;
			}
			j->p++;
		}
		value = hash_value(j);
		sum += mix(key * 0xff51afd7ed558ccdULL + value);
		count++;
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
		} else if (j->p < j->end && *j->p == close) {
			j->p++;
			break;
		} else {
			j->bad = 1;
		}
	}
out:
	j->depth--;
	return mix(sum + (count ^ (object ? 0x6f626aULL : 0x617272ULL)) *
		   WORD_MUL);
}

static int literal(struct jhash *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

static uint64_t hash_value(struct jhash *j)
{
	skip_ws(j);
	if (j->p >= j->end) {
		j->bad = 1;
		return 0;
	}
	switch (*j->p) {
	case '{':
		return hash_container(j, 1);
	case '[':
		return hash_container(j, 0);
	case '"':
		return hash_string(j);
	case 't':
		if (literal(j, "true"))
			return mix(0x74727565ULL);
		break;
	case 'f':
		if (literal(j, "false"))
			return mix(0x66616c7365ULL);
		break;
	case 'n':
		if (literal(j, "null"))
			return mix(0x6e756c6cULL);
		break;
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return hash_number(j);
	}
	j->bad = 1;
	return 0;
}

int64_t bodyhash_of(const char *p, size_t n)
{
	struct jhash j;
	uint64_t h;

	j.p = (const unsigned char *)p;
	j.end = j.p + n;
	j.depth = 0;
	j.bad = 0;
	h = hash_value(&j);
	skip_ws(&j);
	if (j.bad || j.p != j.end) {
		struct words w;

		words_init(&w, 'x');
		words_add(&w, (const unsigned char *)p, n);
		h = words_end(&w);
	}
	return (int64_t)mix(h);
}
