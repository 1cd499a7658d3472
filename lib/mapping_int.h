/*
 * mapping_int: what mapping.c and mapping_build.c share, private to them.
 */
#ifndef MB_MAPPING_INT_H
#define MB_MAPPING_INT_H

#include <stddef.h>

/* Longest header text quoted in one message. */
#define MAPPING_MSG_HEADER_MAX 200

/*
 * p[0..n) without leading and trailing ASCII white space and U+00A0 (a
 * pointer into p); its length in *out.
 */
const char *mapping_trim(const char *p, size_t n, size_t *out);

#endif
