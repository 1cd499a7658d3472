/*
 * fuzz_common: what the input-path targets (fuzz_stage, fuzz_parse) share:
 * the two selector bytes and a guard against a known slow path.
 *
 * Input format: byte 0 bits 0-3 pick the preset (0: auto, else the
 * mapping_presets() entry), bits 4-5 the delimiter (detect , ; TAB), bits
 * 6-7 the file name (a Mailchimp name sets the status); byte 1 bit 0 adds
 * --tag extras and --source initial_sync.  The rest is the file.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mapping.h"

/* Selector bits 6-7: the name the file is staged under. */
static const char *const fuzz_names[] = {
	"export.csv",
	"subscribed_members_export_a1b2c3d4e5.csv",
	"unsubscribed_members_export_a1b2c3d4e5.csv",
	"nonsubscribed_members_export_a1b2c3d4e5.csv",
};

/* Selector bits 4-5: the delimiter (0: detect). */
static const char fuzz_delimiters[] = { 0, ',', ';', '\t' };

static const char *const fuzz_tags[] = { "fuzz", "Fuzz Tag" };

struct fuzz_sel {
	const char *preset;
	char delimiter;
	const char *name;
	int extras;
};

static inline void fuzz_select(const uint8_t *data, struct fuzz_sel *s)
{
	size_t npresets = 0;

	while (mapping_presets()[npresets])
		npresets++;
	s->preset = mapping_presets()[(data[0] & 15) % npresets];
	s->delimiter = fuzz_delimiters[(data[0] >> 4) & 3];
	s->name = fuzz_names[(data[0] >> 6) & 3];
	s->extras = data[1] & 1;
}

/*
 * KNOWN BUG GUARD.  mapping.c's custom_keys() makes each custom key unique
 * by trying key, key_2, key_3, ... and scanning every column for each try:
 * cubic in the number of columns sharing one header name (3,000 columns
 * named "x" take 17 s, 10,000 take hours).  Under libFuzzer a 1 KB gzip of
 * such a header is a timeout, so headers wider than this are skipped until
 * that is fixed (tests/e2e/test_adversarial.py::test_many_duplicate_headers
 * tracks it).  Set FUZZ_WIDE_HEADERS=1 to fuzz them anyway.
 */
#define FUZZ_MAX_HEADER_FIELDS 256

static inline int fuzz_header_too_wide(const uint8_t *p, size_t n)
{
	static unsigned char out[65536];
	size_t len = n, i, seps = 0;
	const unsigned char *q = p;

	if (getenv("FUZZ_WIDE_HEADERS"))
		return 0;
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		z_stream z;

		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, 15 + 16) != Z_OK)
			return 0;
		z.next_in = (unsigned char *)(uintptr_t)p;
		z.avail_in = (uInt)n;
		z.next_out = out;
		z.avail_out = sizeof(out);
		(void)inflate(&z, Z_SYNC_FLUSH);
		len = sizeof(out) - z.avail_out;
		inflateEnd(&z);
		q = out;
	}
	for (i = 0; i < len && (q[i] == '\n' || q[i] == '\r'); i++)
		;
	for (; i < len && q[i] != '\n' && q[i] != '\r'; i++)
		seps += q[i] == ',' || q[i] == ';' || q[i] == '\t' ||
			q[i] == '|';
	return seps >= FUZZ_MAX_HEADER_FIELDS;
}

#endif
