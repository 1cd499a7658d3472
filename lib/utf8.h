/*
 * utf8: the one UTF-8 check, for the client (every cell of every row, on
 * the hot path of staging) and the sandbox (request bodies, tags, names).
 *
 * Well-formed means Unicode's table 3-7: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing past U+10FFFF, no truncated sequence.  NUL is
 * a well-formed character; a caller that refuses it says UTF8_NO_NUL (a
 * CSV cell with a NUL byte is a broken export, not text).  Pure functions
 * on bytes, p need not be NUL-terminated; ASCII runs at memory speed.
 */
#ifndef MB_UTF8_H
#define MB_UTF8_H

#include <stddef.h>

/* Flags: a NUL byte ends the valid prefix, as an ill-formed byte does. */
#define UTF8_NO_NUL 1u

/* The length of the longest well-formed prefix of p[0..n). */
size_t utf8_valid_len(const char *p, size_t n, unsigned flags);

/*
 * The length of the well-formed character at p (n bytes available): 1 for
 * an ASCII byte (NUL included), 2 to 4 for a longer one, 0 when the bytes
 * there are ill-formed or n is 0.
 */
size_t utf8_char_len(const char *p, size_t n);

/* 1 when all of p[0..n) is well-formed, else 0. */
int utf8_valid(const char *p, size_t n, unsigned flags);

#endif
