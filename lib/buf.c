/*
 * buf: growable, capped, always NUL-terminated byte buffer.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

enum mb_rc buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > b->max || b->len > b->max - extra)
		return MB_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return MB_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap < ((size_t)1 << 30) ? cap * 2 : need;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return MB_OK;
}

enum mb_rc buf_add(struct buf *b, const void *p, size_t n)
{
	enum mb_rc rc = buf_grow(b, n);

	if (rc != MB_OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return MB_OK;
}

enum mb_rc buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

enum mb_rc buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

enum mb_rc buf_set(struct buf *b, const void *p, size_t n)
{
	buf_reset(b);
	return buf_add(b, p, n);
}

enum mb_rc buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	enum mb_rc rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MB_EINTERNAL;
	rc = buf_grow(b, (size_t)n);
	if (rc != MB_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return MB_OK;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (!b->data)
		buf_add(b, "", 0);
	p = b->data;
	if (len)
		*len = b->len;
	buf_init(b, b->max);
	return p;
}
