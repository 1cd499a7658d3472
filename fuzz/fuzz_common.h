/*
 * fuzz_common: what the input-path targets (fuzz_stage, fuzz_parse) share:
 * the two selector bytes.
 *
 * Input format: byte 0 bits 0-3 pick the preset (0: auto, else the
 * mapping_presets() entry), bits 4-5 the delimiter (detect , ; TAB), bits
 * 6-7 the file name (a Mailchimp name sets the status); byte 1 bit 0 adds
 * --tag extras and --source initial_sync.  The rest is the file.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>

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

#endif
