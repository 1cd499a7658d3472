/*
 * sha256: the FIPS 180-2 / NIST example vectors, fed whole and in awkward
 * pieces so every path through the block buffer is taken.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "sha256.h"

struct vector {
	const char *input;
	size_t repeat;           /* input is hashed this many times */
	const char *hex;
};

static const struct vector vectors[] = {
	{ "", 1,
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", 1,
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 1,
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	{ "a", 1000000,
	  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	/* 55, 56 and 64 bytes: the padding edge cases. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
	  "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
	  "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaa", 1,
	  "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
};

static void check(const struct vector *v, size_t piece)
{
	struct sha256 s;
	unsigned char digest[32];
	char hex[65];
	size_t len = strlen(v->input), r, off, n;

	sha256_init(&s);
	sha256_update(&s, "", 0);
	for (r = 0; r < v->repeat; r++)
		for (off = 0; off < len; off += n) {
			n = len - off < piece ? len - off : piece;
			sha256_update(&s, v->input + off, n);
		}
	sha256_final(&s, digest);
	sha256_hex(digest, hex);
	cr_assert_str_eq(hex, v->hex, "input '%.20s' x%zu in pieces of %zu",
			 v->input, v->repeat, piece);
}

Test(sha256, vectors_whole)
{
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		check(&vectors[i], (size_t)-1);
}

Test(sha256, vectors_in_pieces)
{
	static const size_t pieces[] = { 1, 3, 63, 64, 65 };
	size_t i, k;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		if (vectors[i].repeat > 1)
			continue;
		for (k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++)
			check(&vectors[i], pieces[k]);
	}
}

Test(sha256, million_a_in_one_update)
{
	static char buf[1000000];
	struct sha256 s;
	unsigned char digest[32];
	char hex[65];

	memset(buf, 'a', sizeof(buf));
	sha256_init(&s);
	sha256_update(&s, buf, 7);
	sha256_update(&s, buf + 7, sizeof(buf) - 7);
	sha256_final(&s, digest);
	sha256_hex(digest, hex);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
			      "f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, final_wipes_and_init_reuses)
{
	struct sha256 s;
	unsigned char d1[32], d2[32];

	sha256_init(&s);
	sha256_update(&s, "abc", 3);
	sha256_final(&s, d1);
	cr_assert_eq(s.length, 0);
	cr_assert_eq(s.fill, 0);
	sha256_init(&s);
	sha256_update(&s, "abc", 3);
	sha256_final(&s, d2);
	cr_assert_eq(memcmp(d1, d2, 32), 0);
}
