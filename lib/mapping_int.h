/*
 * mapping_int: what mapping.c and mapping_build.c share, private to them.
 */
#ifndef MB_MAPPING_INT_H
#define MB_MAPPING_INT_H

#include <stddef.h>

#include "err.h"

/* The custom field that names the provider of consent evidence. */
#define MAPPING_CONSENT_SOURCE "consent_source"

/* Longest header text quoted in one message. */
#define MAPPING_MSG_HEADER_MAX 200

/*
 * p[0..n) without leading and trailing ASCII white space and U+00A0 (a
 * pointer into p); its length in *out.
 */
const char *mapping_trim(const char *p, size_t n, size_t *out);

/*
 * The custom_fields object of rec when m->custom_merged (a JSON attributes
 * column): the custom columns, consent_source and the cells' members,
 * sorted by key, into rec->custom (empty).  A cell that is not a JSON
 * object is one string under its column's key.
 */
struct mapping;
struct record;
struct csv_row;
enum mb_rc mapping_custom_merged(const struct mapping *m,
				 const struct csv_row *row,
				 struct record *rec);

#endif
