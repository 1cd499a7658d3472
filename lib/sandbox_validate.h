/*
 * sandbox_validate: the text checks of meisa-sandbox's endpoints, pure
 * functions on bytes: UTF-8, Django's email validator, query strings.
 */
#ifndef MB_SANDBOX_VALIDATE_H
#define MB_SANDBOX_VALIDATE_H

#include <stddef.h>

#include "buf.h"

/*
 * Django's EmailValidator on p[0..n) (already trimmed): 1 valid, 0 not.
 * Dot-atom or quoted local part; a domain of dotted labels whose last one
 * has 2 to 63 characters, "localhost", or an [IPv4] / [IPv6:...] literal;
 * at most 320 bytes of valid UTF-8.  Non-ASCII in the domain is accepted
 * as IDNA would.
 */
int sandbox_email_ok(const char *p, size_t n);

/* 1 when p[0..n) is well-formed UTF-8 (utf8.h; NUL is a character). */
int sandbox_utf8_ok(const char *p, size_t n);

/* Append p[0..n) with each byte that is not UTF-8 replaced by U+FFFD. */
void sandbox_utf8_lossy(struct buf *out, const char *p, size_t n);

/*
 * Look name up in a raw query string ("a=1&b=x%40y.com"): decode the last
 * value given for it (%XX and '+') into out and return 1, or return 0 when
 * the name is absent.  A name without '=' has the value "".
 */
int sandbox_query_get(const char *query, const char *name,
		      struct buf *out);

#endif
