/*
 * json: the little JSON writing the C side needs; SQLite's JSON functions do
 * the rest (building bodies, merging, reading answers).
 */
#ifndef MB_JSON_H
#define MB_JSON_H

#include <stddef.h>

#include "buf.h"

/*
 * Append p[0..n) (valid UTF-8) as a JSON string literal with escapes.
 * The escapes are SQLite's json_quote() ones, byte for byte: \" \\ \b \f
 * \n \r \t, \u00xx (lower-case hex) for the other bytes below 0x20; every
 * other byte, UTF-8 included, is copied as it is.  p is borrowed and need
 * not be NUL-terminated.  MB_ETOOBIG when out's cap is reached, and then
 * out is left exactly as it was.
 */
enum mb_rc json_add_string(struct buf *out, const char *p, size_t n);

#endif
