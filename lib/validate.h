/*
 * validate: checks on single cells: email addresses and UTF-8.
 *
 * The email check accepts what real providers accept and rejects what they
 * reject (see the table tests in tests/unit/test_validate.c and the isemail
 * conformance run).  It is not an RFC 5322 parser: quoted local parts,
 * comments and address literals are refused, as mail providers do.
 */
#ifndef MB_VALIDATE_H
#define MB_VALIDATE_H

#include <stddef.h>

#include "buf.h"

/* 1 when p[0..n) is well-formed UTF-8 without NUL bytes, else 0. */
int validate_utf8(const char *p, size_t n);

/*
 * Normalise and check one email cell: trim white space, take the address
 * out of "Jane Doe <jane@x.com>", lower-case it.  On success the address is
 * written to out (replacing its contents) and NULL is returned; otherwise a
 * static, lowercase reason ("no @", "several @", "space in address",
 * "empty local part", "domain has no dot", ...) is returned and out is
 * unchanged.
 */
const char *validate_email(const char *p, size_t n, struct buf *out);

#endif
