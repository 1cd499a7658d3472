/*
 * json: the little JSON writing the C side needs; SQLite's JSON functions do
 * the rest (building bodies, merging, reading answers).
 */
#ifndef MB_JSON_H
#define MB_JSON_H

#include <stddef.h>

#include "buf.h"

/* Append p[0..n) (valid UTF-8) as a JSON string literal with escapes. */
enum mb_rc json_add_string(struct buf *out, const char *p, size_t n);

#endif
