/*
 * mapping: from a provider's header row to contact fields, and from each
 * data row to one normalised record.
 *
 * mapping_build() looks at the header row (and, for Mailchimp, the file
 * name) and gives every column a role: email, external_id, names, tags,
 * a status signal, ignore, or a custom field with a stable snake_case key
 * ("Company Name" -> company_name, "MEMBER_RATING" -> member_rating; a key
 * that repeats gets _2, _3).  Presets come from ../shared/esp-exports.md:
 * mailchimp, sendgrid, klaviyo, hubspot, kit, activecampaign, brevo,
 * mailerlite, customerio, beehiiv, substack, intercom; then ghost,
 * listmonk, keila, mautic, buttondown, sendy, constantcontact, aweber,
 * getresponse, campaignmonitor, emailoctopus, moosend, omnisend, drip and
 * loops (fixtures/README.md says where each layout comes from); and generic
 * (email, first/last name synonyms).  "auto" picks one from the header fingerprints,
 * headers compared trimmed and case-insensitively.  Overrides (--map) win
 * over the preset, column by column.
 *
 * mapping_apply() turns one data row into a struct record: cells trimmed,
 * empty cells omitted (never sent empty: they would overwrite data in Meisa),
 * the email validated and normalised, a JSON attributes cell (listmonk,
 * Keila) spread into custom fields (a column of the same key wins), consent
 * evidence under fixed keys (consent_optin_at, consent_optin_ip,
 * consent_confirmed_at, consent_confirmed_ip) with consent_source, the
 * preset's name, when a row has any, custom values typed (canonical
 * integers and decimals become JSON numbers, true/false booleans, the
 * providers' date formats ISO 8601, everything else strings), tags split and
 * de-duplicated in first-seen order plus the --tag extras, and the source
 * status read into a suppression reason or an "unconfirmed" flag.
 *
 * A row that must not be staged is not an error: rec->reject is set to a
 * reason code and rec->reject_detail names the column.  Errors (rc != MB_OK)
 * are for the file as a whole, e.g. a header without an email column.
 */
#ifndef MB_MAPPING_H
#define MB_MAPPING_H

#include <stddef.h>

#include "buf.h"
#include "csvread.h"
#include "err.h"
#include "roles.h"

/* One --map COLUMN=FIELD. */
struct mapping_override {
	char *column;            /* header text, matched trimmed, any case */
	enum field_role role;
	char *custom_key;        /* for custom:NAME */
};

struct mapping_column {
	char *header;            /* trimmed header text as in the file */
	enum field_role role;
	char *key;               /* custom field key (FIELD_CUSTOM) */
	enum status_rule rule;   /* FIELD_STATUS */
	const char *reason;      /* FIELD_STATUS with NONEMPTY/TRUE: the reason */
	int is_mailchimp_tags;   /* TAGS cell: parse as a one-line CSV */
	enum tags_format tags_format;    /* FIELD_TAGS */
	const struct status_word *words; /* STATUS_VALUE/CONSENT: provider
					    words, before the common ones */
	char *json_key;          /* FIELD_CUSTOM: "key": ready to append */
	unsigned typing_flags;   /* FIELD_CUSTOM: TYPING_* of this column */
	int consent;             /* FIELD_CUSTOM: consent evidence */
};

struct mapping_opts {
	const char *preset;      /* "auto" or a preset name */
	const struct mapping_override *overrides;
	size_t noverrides;
	const char *const *tags; /* --tag extras added to every record */
	size_t ntags;
};

struct mapping {
	const char *preset;      /* the preset in use (static string) */
	size_t ncolumns;
	struct mapping_column *columns;
	const char *file_status; /* status implied by the file: "unsubscribed",
				    "cleaned" (Mailchimp file names), or NULL */
	int file_unconfirmed;    /* Mailchimp nonsubscribed_ file */
	char **tags;             /* copy of the --tag extras */
	size_t ntags;
	size_t *order;           /* custom columns sorted by key */
	size_t norder;
	size_t email_column;     /* index of the FIELD_EMAIL column */
	unsigned typing_flags;   /* TYPING_DMY_DATES for Brevo */
	int custom_merged;       /* custom_fields also from a JSON column:
				    collected and sorted */
	int consent_evidence;    /* some custom column is consent evidence:
				    consent_source is added when a row has any */
	size_t consent_order;    /* where consent_source goes in order: before
				    order[consent_order] (norder: last) */
};

#define MAPPING_INIT { NULL, 0, NULL, NULL, 0, NULL, 0, NULL, 0, 0, 0, 0, 0, 0 }

struct record {
	struct buf email;        /* normalised address */
	struct buf external_id;  /* empty = absent */
	struct buf first_name;
	struct buf last_name;
	struct buf display_name;
	struct buf custom;       /* canonical JSON object, keys sorted; "{}" */
	struct buf tags;         /* JSON array of names, first-seen order; "[]" */
	const char *suppress;    /* NULL, or "unsubscribed", "cleaned",
				    "bounced", "complained", "deleted" ... */
	int unconfirmed;         /* never subscribed or pending */
	const char *reject;      /* NULL, or a reason code (see below) */
	struct buf reject_detail; /* human text naming the column */
	struct buf scratch;      /* private: tags being collected */
};

/*
 * Reject reason codes: "invalid_email", "missing_email", "invalid_utf8",
 * "too_many_fields", "too_few_fields", "deleted_account" (Substack
 * placeholders), and "csv_error" for rows csvread could not parse.
 *
 * On a reject, rec->email holds the email cell as found (trimmed), when
 * there is one and it is valid UTF-8, so that the reject can be reported
 * with the address the user will recognise; the other fields are
 * unspecified.
 *
 * Suppression reasons (static strings): "unsubscribed", "cleaned",
 * "bounced", "complained", "blocklisted", "invalid", "deleted".  When
 * several columns give one, the most specific wins, in this order:
 * complained > bounced > cleaned > invalid > blocklisted > unsubscribed >
 * deleted.  rec->unconfirmed is only set on a contact that is not
 * suppressed.
 */

void record_init(struct record *rec);
void record_release(struct record *rec);

/* Parse "COLUMN=FIELD" (see SPEC.md --map); MB_EUSAGE with a message. */
enum mb_rc mapping_parse_override(const char *arg, struct mapping_override *ov,
				  struct err *e);
void mapping_override_release(struct mapping_override *ov);

/*
 * Build the mapping for one file.  path is used for messages and for
 * Mailchimp's file-name status.  MB_EUSAGE for an unknown preset; MB_EDATA
 * when no column is the email: the message lists the headers seen and the
 * --map option to use; MB_EUSAGE for a --map naming no column of this file
 * or two columns given one role.  m must be empty (MAPPING_INIT or
 * released); it is written only on success.  The mapping holds no pointer
 * into header or opts, and mapping_apply only reads it.
 */
enum mb_rc mapping_build(struct mapping *m, const struct mapping_opts *opts,
			 const char *path, const struct csv_row *header,
			 struct err *e);
void mapping_release(struct mapping *m);

/* Fill rec (reset first) from one data row. */
enum mb_rc mapping_apply(const struct mapping *m, const struct csv_row *row,
			 struct record *rec, struct err *e);

/* NULL-terminated list of preset names, "auto" first. */
const char *const *mapping_presets(void);

/* Write the snake_case key for a header into out ("Company Name" -> ...). */
enum mb_rc mapping_snake_key(const char *header, struct buf *out);

#endif
