/*
 * xalloc: allocation that cannot fail.
 *
 * Out-of-memory policy: meisa-bulk is a batch tool whose progress is
 * checkpointed in the staging file, so running out of memory reports on
 * stderr and aborts; the next run resumes from the last commit.  Size limits
 * on untrusted input (a huge CSV field, an endless HTTP body) are ordinary
 * errors handled by struct buf's cap, never by these functions.
 */
#ifndef MB_XALLOC_H
#define MB_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
