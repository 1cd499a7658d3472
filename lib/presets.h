/*
 * presets: what each provider's export looks like (../shared/esp-exports.md),
 * as tables the mapping reads: which header means which field, which
 * columns carry a do-not-email status and how to read them, how tags are
 * written, and how to recognise the provider from the header row.
 *
 * Headers in the tables are written in "loose" form: lower-case ASCII
 * letters and digits only, so "First Name", "first_name", "FIRSTNAME" and
 * "First-Name" all match "firstname".  Detection fingerprints are stricter:
 * whole headers compared trimmed and case-insensitively.
 */
#ifndef MB_PRESETS_H
#define MB_PRESETS_H

#include <stddef.h>

#include "roles.h"

#define PRESET_COL_EXACT 1u      /* header must match byte for byte */
/*
 * Consent evidence (a custom field named consent_*): its dates keep the
 * zone the export gives (none when it gives none) unless the preset says
 * its times are UTC, and a row with any such value also gets
 * consent_source, the preset's name.
 */
#define PRESET_COL_CONSENT 2u

struct preset_column {
	const char *header;      /* loose form (or exact, see flags) */
	enum field_role role;
	const char *key;         /* FIELD_CUSTOM key; NULL: snake of header */
	enum status_rule rule;   /* FIELD_STATUS */
	const char *reason;      /* STATUS_NONEMPTY / STATUS_TRUE */
	const struct status_word *words; /* STATUS_VALUE: provider words */
	enum tags_format tags;   /* FIELD_TAGS */
	unsigned flags;
};

#define PRESET_DMY_DATES 1u      /* DD-MM-YYYY dates (Brevo) */
#define PRESET_GENERIC 2u        /* the generic preset's wider synonyms */
#define PRESET_UTC_TIMES 4u      /* zoneless times are UTC (documented) */

struct preset {
	const char *name;
	const struct preset_column *columns;  /* ends with header NULL */
	unsigned flags;
};

/*
 * Loose form of a header into out (cap bytes with the NUL, truncated):
 * lower-case ASCII letters and digits, everything else dropped.  Table
 * headers are far shorter than PRESET_LOOSE_MAX, so a truncated form can
 * never match one by accident.
 */
#define PRESET_LOOSE_MAX 64
void preset_loose(const char *s, char *out, size_t cap);

/* The preset called name, or NULL ("auto" is not a preset). */
const struct preset *preset_find(const char *name);

/*
 * Recognise the provider from the trimmed headers and the file's path
 * (Mailchimp's file names); the generic preset when nothing matches.
 */
const struct preset *preset_detect(const char *path,
				   const char *const *headers, size_t n);

/*
 * Mailchimp's per-file status from a path's base name (after the last
 * '/', '\\' or ':', so a zip member "export.zip:dir/NAME" is named NAME):
 * "unsubscribed_members_export_..." -> "unsubscribed", "cleaned_..." ->
 * "cleaned"; *unconfirmed = 1 for "nonsubscribed_...".  Returns 1 when the
 * name is one of the four export names, else 0.
 */
int preset_mailchimp_file(const char *path, const char **status,
			  int *unconfirmed);

/*
 * Columns every preset knows when its own table has no match: email and
 * name synonyms (the generic preset adds ids, tags and status).
 */
const struct preset_column *preset_fallback(const struct preset *p,
					    const char *loose);

/* The table entry of p for a header in loose form (and as written). */
const struct preset_column *preset_column(const struct preset *p,
					  const char *loose,
					  const char *header);

/* Words of a status column: provider words first, then common ones. */
const struct status_word *preset_status_word(const struct status_word *words,
					     const char *loose);

/* NULL-terminated names, "auto" first. */
const char *const *preset_names(void);

#endif
