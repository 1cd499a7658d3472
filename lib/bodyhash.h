/*
 * bodyhash: the canonical hash of a contact's JSON body (see bodyhash.c).
 */
#ifndef MB_BODYHASH_H
#define MB_BODYHASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * The canonical hash of a JSON text: a 64-bit digest of what the value
 * means, not of how it is written.  Object members in any order, array
 * elements in any order (a body's only array is tag_names, a set), numbers
 * by decimal value (480, 480.0, 480.00 and 4.8e2 are one number; -0 is 0),
 * strings by their characters (escapes resolved, so "\u00e9" is "\xc3\xa9"),
 * whitespace ignored.  A text that is not JSON hashes as its bytes.  Never
 * fails; p need not be NUL-terminated.  The connection also offers it to SQL
 * as mb_body_hash(text).
 */
int64_t bodyhash_of(const char *p, size_t n);

#endif
