/*
 * buf: the one growable byte buffer, used for CSV fields, JSON bodies, HTTP
 * responses and messages.
 *
 * Invariants: data is NUL-terminated whenever it is non-NULL (buf_str() gives
 * "" for an empty buffer); len never exceeds max.  Appending past max fails
 * with MB_ETOOBIG and leaves the buffer as it was: a size limit on untrusted
 * input is an ordinary error.  Growth itself cannot fail (see xalloc.h).
 *
 *   struct buf b = BUF_INIT;          (max = BUF_MAX_DEFAULT)
 *   buf_init(&b, 1 << 20);            (or choose the cap)
 *   rc = buf_add(&b, p, n);
 *   ... buf_str(&b) ...
 *   buf_release(&b);                  (safe on a just-initialised buf)
 */
#ifndef MB_BUF_H
#define MB_BUF_H

#include <stddef.h>

#include "err.h"

#define BUF_MAX_DEFAULT ((size_t)64 << 20)

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_INIT { NULL, 0, 0, BUF_MAX_DEFAULT }

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);

/* Empty the buffer, keeping its storage. */
void buf_reset(struct buf *b);

/* Ensure room for extra more bytes (plus the NUL); MB_ETOOBIG past max. */
enum mb_rc buf_grow(struct buf *b, size_t extra);

enum mb_rc buf_add(struct buf *b, const void *p, size_t n);
enum mb_rc buf_addstr(struct buf *b, const char *s);
enum mb_rc buf_addch(struct buf *b, char c);
enum mb_rc buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set the contents to exactly p[0..n). */
enum mb_rc buf_set(struct buf *b, const void *p, size_t n);

/* The contents as a C string; never NULL. */
const char *buf_str(const struct buf *b);

/* Hand the storage to the caller (who frees it) and reset b to empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
