/*
 * presets: provider tables and auto-detection (see presets.h).
 *
 * Every fact here comes from ../shared/esp-exports.md.  Where that document
 * marks a column UNCONFIRMED the table accepts it as one option among
 * others, and detection never relies on it.
 */
#include "presets.h"

#include <string.h>
#include <strings.h>

#define COL(h, r)  { h, r, NULL, STATUS_VALUE, NULL, NULL, TAGS_LIST, 0 }
#define KEY(h, k)  { h, FIELD_CUSTOM, k, STATUS_VALUE, NULL, NULL, \
		     TAGS_LIST, 0 }
#define TAGS(h, f) { h, FIELD_TAGS, NULL, STATUS_VALUE, NULL, NULL, f, 0 }
#define STATUS(h, rule, reason, words) \
	{ h, FIELD_STATUS, NULL, rule, reason, words, TAGS_LIST, 0 }
#define END        { NULL, FIELD_IGNORE, NULL, STATUS_VALUE, NULL, NULL, \
		     TAGS_LIST, 0 }

/*
 * Status words understood in every status column, after the provider's
 * own: enough to read ActiveCampaign, MailerLite, Kit, Klaviyo's consent and
 * the usual "status" column of an application's own export.
 */
static const struct status_word common_words[] = {
	{ "unsubscribed", "unsubscribed", 0 },
	{ "unsubscribe", "unsubscribed", 0 },
	{ "unsub", "unsubscribed", 0 },
	{ "optedout", "unsubscribed", 0 },
	{ "optout", "unsubscribed", 0 },
	{ "cancelled", "unsubscribed", 0 },
	{ "canceled", "unsubscribed", 0 },
	{ "cleaned", "cleaned", 0 },
	{ "bounced", "bounced", 0 },
	{ "bounce", "bounced", 0 },
	{ "hardbounce", "bounced", 0 },
	{ "hardbounced", "bounced", 0 },
	{ "complained", "complained", 0 },
	{ "complaint", "complained", 0 },
	{ "spam", "complained", 0 },
	{ "spamcomplaint", "complained", 0 },
	{ "spamreport", "complained", 0 },
	{ "markedasspam", "complained", 0 },
	{ "junk", "complained", 0 },               /* MailerLite */
	{ "blocklisted", "blocklisted", 0 },
	{ "blacklisted", "blocklisted", 0 },
	{ "excluded", "blocklisted", 0 },          /* ActiveCampaign */
	{ "invalid", "invalid", 0 },
	{ "invalidemail", "invalid", 0 },
	{ "deleted", "deleted", 0 },
	{ "unconfirmed", NULL, 1 },
	{ "pending", NULL, 1 },
	{ "neversubscribed", NULL, 1 },            /* Klaviyo consent */
	{ "nonsubscribed", NULL, 1 },
	{ "notsubscribed", NULL, 1 },
	{ NULL, NULL, 0 },
};

/* Kit: "inactive" never finished double opt-in. */
static const struct status_word kit_words[] = {
	{ "inactive", NULL, 1 },
	{ NULL, NULL, 0 },
};

/* beehiiv: "inactive" is an unsubscribed reader; API-only states too. */
static const struct status_word beehiiv_words[] = {
	{ "inactive", "unsubscribed", 0 },
	{ "validating", NULL, 1 },
	{ NULL, NULL, 0 },
};

static const struct preset_column mailchimp_cols[] = {
	COL("emailaddress", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	TAGS("tags", TAGS_MAILCHIMP),
	STATUS("unsubtime", STATUS_NONEMPTY, "unsubscribed", NULL),
	STATUS("cleantime", STATUS_NONEMPTY, "cleaned", NULL),
	END,
};

static const struct preset_column sendgrid_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	COL("externalid", FIELD_EXTERNAL_ID),
	END,
};

/* Klaviyo ID is Klaviyo's own id, never the customer's external_id. */
static const struct preset_column klaviyo_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	KEY("klaviyoid", "klaviyo_id"),
	STATUS("emailmarketingconsent", STATUS_CONSENT, NULL, NULL),
	STATUS("emailsuppressions", STATUS_SUPPRESSIONS, NULL, NULL),
	TAGS("shopifytags", TAGS_JSON_LIST),
	END,
};

/* English labels and internal names (exportInternalValuesOptions). */
static const struct preset_column hubspot_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	KEY("recordid", "record_id"),
	KEY("hsobjectid", "record_id"),
	STATUS("unsubscribedfromallemail", STATUS_TRUE, "unsubscribed", NULL),
	STATUS("hsemailoptout", STATUS_TRUE, "unsubscribed", NULL),
	STATUS("portalbounce", STATUS_TRUE, "bounced", NULL),
	STATUS("globalbounce", STATUS_TRUE, "bounced", NULL),
	STATUS("portalunsubscribe", STATUS_TRUE, "unsubscribed", NULL),
	STATUS("portalspamreport", STATUS_TRUE, "complained", NULL),
	END,
};

static const struct preset_column kit_cols[] = {
	COL("emailaddress", FIELD_EMAIL),
	COL("email", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	STATUS("state", STATUS_VALUE, NULL, kit_words),
	STATUS("status", STATUS_VALUE, NULL, kit_words),
	TAGS("tags", TAGS_LIST),
	END,
};

static const struct preset_column activecampaign_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	STATUS("status", STATUS_VALUE, NULL, NULL),
	TAGS("tags", TAGS_LIST),
	END,
};

/* The blocklist column's name is UNCONFIRMED: the likely spellings. */
static const struct preset_column brevo_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	COL("extid", FIELD_EXTERNAL_ID),
	KEY("contactid", "contact_id"),
	STATUS("emailblacklisted", STATUS_TRUE, "blocklisted", NULL),
	STATUS("emailblocklisted", STATUS_TRUE, "blocklisted", NULL),
	STATUS("blacklisted", STATUS_TRUE, "blocklisted", NULL),
	STATUS("blocklisted", STATUS_TRUE, "blocklisted", NULL),
	END,
};

/* MailerLite's "name" field is the first name. */
static const struct preset_column mailerlite_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("name", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	STATUS("status", STATUS_VALUE, NULL, NULL),
	END,
};

/* Attribute names are case-sensitive: only "id" is the identifier. */
static const struct preset_column customerio_cols[] = {
	{ "id", FIELD_EXTERNAL_ID, NULL, STATUS_VALUE, NULL, NULL, TAGS_LIST,
	  PRESET_COL_EXACT },
	COL("email", FIELD_EMAIL),
	STATUS("unsubscribed", STATUS_TRUE, "unsubscribed", NULL),
	END,
};

/* "First Name"/"Last Name" are custom fields in beehiiv, but names. */
static const struct preset_column beehiiv_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	STATUS("status", STATUS_VALUE, NULL, beehiiv_words),
	STATUS("unsubscribedat", STATUS_NONEMPTY, "unsubscribed", NULL),
	END,
};

/* email_disabled is inverted: true means the reader gets no email. */
static const struct preset_column substack_cols[] = {
	COL("email", FIELD_EMAIL),
	STATUS("emaildisabled", STATUS_TRUE, "unsubscribed", NULL),
	END,
};

static const struct preset_column intercom_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("name", FIELD_DISPLAY_NAME),
	COL("userid", FIELD_EXTERNAL_ID),
	STATUS("unsubscribedfromemails", STATUS_TRUE, "unsubscribed", NULL),
	STATUS("markedemailasspam", STATUS_TRUE, "complained", NULL),
	STATUS("hashardbounced", STATUS_TRUE, "bounced", NULL),
	END,
};

static const struct preset_column generic_cols[] = {
	END,
};

/* Synonyms every preset falls back to. */
static const struct preset_column common_cols[] = {
	COL("email", FIELD_EMAIL),
	COL("emailaddress", FIELD_EMAIL),
	COL("emailaddr", FIELD_EMAIL),
	COL("mail", FIELD_EMAIL),
	COL("subscriberemail", FIELD_EMAIL),
	COL("contactemail", FIELD_EMAIL),
	COL("useremail", FIELD_EMAIL),
	COL("primaryemail", FIELD_EMAIL),
	COL("emailadresse", FIELD_EMAIL),
	COL("courriel", FIELD_EMAIL),
	COL("correoelectronico", FIELD_EMAIL),
	COL("firstname", FIELD_FIRST_NAME),
	COL("fname", FIELD_FIRST_NAME),
	COL("givenname", FIELD_FIRST_NAME),
	COL("forename", FIELD_FIRST_NAME),
	COL("first", FIELD_FIRST_NAME),
	COL("prenom", FIELD_FIRST_NAME),
	COL("vorname", FIELD_FIRST_NAME),
	COL("lastname", FIELD_LAST_NAME),
	COL("lname", FIELD_LAST_NAME),
	COL("surname", FIELD_LAST_NAME),
	COL("familyname", FIELD_LAST_NAME),
	COL("last", FIELD_LAST_NAME),
	COL("nachname", FIELD_LAST_NAME),
	COL("name", FIELD_DISPLAY_NAME),
	COL("fullname", FIELD_DISPLAY_NAME),
	COL("displayname", FIELD_DISPLAY_NAME),
	COL("contactname", FIELD_DISPLAY_NAME),
	/* The customer's own id under its own name, whoever exported it. */
	COL("externalid", FIELD_EXTERNAL_ID),
	END,
};

/* What only the generic preset reads: a dump of the customer's own app. */
static const struct preset_column generic_extra_cols[] = {
	COL("externaluserid", FIELD_EXTERNAL_ID),
	COL("userid", FIELD_EXTERNAL_ID),
	TAGS("tags", TAGS_LIST),
	TAGS("tag", TAGS_LIST),
	TAGS("tagnames", TAGS_LIST),
	TAGS("taglist", TAGS_LIST),
	STATUS("status", STATUS_VALUE, NULL, NULL),
	STATUS("subscriptionstatus", STATUS_VALUE, NULL, NULL),
	STATUS("subscriberstatus", STATUS_VALUE, NULL, NULL),
	STATUS("memberstatus", STATUS_VALUE, NULL, NULL),
	STATUS("emailstatus", STATUS_VALUE, NULL, NULL),
	END,
};

static const struct preset presets[] = {
	{ "mailchimp", mailchimp_cols, 0 },
	{ "sendgrid", sendgrid_cols, 0 },
	{ "klaviyo", klaviyo_cols, 0 },
	{ "hubspot", hubspot_cols, 0 },
	{ "kit", kit_cols, 0 },
	{ "activecampaign", activecampaign_cols, 0 },
	{ "brevo", brevo_cols, PRESET_DMY_DATES },
	{ "mailerlite", mailerlite_cols, 0 },
	{ "customerio", customerio_cols, 0 },
	{ "beehiiv", beehiiv_cols, 0 },
	{ "substack", substack_cols, 0 },
	{ "intercom", intercom_cols, 0 },
	{ "generic", generic_cols, PRESET_GENERIC },
};

#define NPRESETS (sizeof(presets) / sizeof(presets[0]))

static const char *const preset_name_list[] = {
	"auto", "mailchimp", "sendgrid", "klaviyo", "hubspot", "kit",
	"activecampaign", "brevo", "mailerlite", "customerio", "beehiiv",
	"substack", "intercom", "generic", NULL,
};

const char *const *preset_names(void)
{
	return preset_name_list;
}

const struct preset *preset_find(const char *name)
{
	size_t i;

	for (i = 0; i < NPRESETS; i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

static const struct preset_column *table_find(const struct preset_column *t,
					      const char *loose,
					      const char *header)
{
	for (; t->header; t++) {
		if (t->flags & PRESET_COL_EXACT) {
			if (header && strcmp(t->header, header) == 0)
				return t;
		} else if (strcmp(t->header, loose) == 0) {
			return t;
		}
	}
	return NULL;
}

const struct preset_column *preset_column(const struct preset *p,
					  const char *loose,
					  const char *header)
{
	return table_find(p->columns, loose, header);
}

const struct preset_column *preset_fallback(const struct preset *p,
					    const char *loose)
{
	const struct preset_column *c = table_find(common_cols, loose, NULL);

	if (!c && (p->flags & PRESET_GENERIC))
		c = table_find(generic_extra_cols, loose, NULL);
	return c;
}

const struct status_word *preset_status_word(const struct status_word *words,
					     const char *loose)
{
	const struct status_word *w;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		w = pass == 0 ? words : common_words;
		for (; w && w->word; w++)
			if (strcmp(w->word, loose) == 0)
				return w;
	}
	return NULL;
}

int preset_mailchimp_file(const char *path, const char **status,
			  int *unconfirmed)
{
	static const struct {
		const char *prefix;
		const char *status;
		int unconfirmed;
	} names[] = {
		{ "subscribed_members_export_", NULL, 0 },
		{ "unsubscribed_members_export_", "unsubscribed", 0 },
		{ "cleaned_members_export_", "cleaned", 0 },
		{ "nonsubscribed_members_export_", NULL, 1 },
	};
	const char *base;
	size_t i;

	if (!path)
		return 0;
	/* A zip member is named "ZIP:DIR/NAME" (stage, archive.h). */
	for (base = path; *path; path++)
		if (*path == '/' || *path == ':' || *path == '\\')
			base = path + 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncasecmp(base, names[i].prefix,
				strlen(names[i].prefix)) == 0) {
			*status = names[i].status;
			*unconfirmed = names[i].unconfirmed;
			return 1;
		}
	}
	return 0;
}

/* The headers seen, for fingerprint tests. */
struct header_set {
	const char *const *headers;
	size_t n;
};

static int has(const struct header_set *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->headers[i], name) == 0)
			return 1;
	return 0;
}

void preset_loose(const char *s, char *out, size_t cap)
{
	size_t k = 0;

	for (; *s && k + 1 < cap; s++) {
		char ch = *s;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			out[k++] = ch;
	}
	out[k] = '\0';
}

/* Some header is one of the email synonyms (loose comparison). */
static int has_email_column(const struct header_set *h)
{
	const struct preset_column *c;
	char loose[PRESET_LOOSE_MAX];
	size_t i;

	for (i = 0; i < h->n; i++) {
		preset_loose(h->headers[i], loose, sizeof(loose));
		c = table_find(common_cols, loose, NULL);
		if (c && c->role == FIELD_EMAIL)
			return 1;
	}
	return 0;
}

static int is_mailchimp(const struct header_set *h)
{
	if (has(h, "UNSUB_TIME") || has(h, "CLEAN_TIME"))
		return 1;
	if (has(h, "LEID") && has(h, "EUID"))
		return 1;
	return has(h, "MEMBER_RATING") &&
		(has(h, "OPTIN_TIME") || has(h, "LEID") || has(h, "EUID"));
}

static int is_sendgrid(const struct header_set *h)
{
	return has(h, "EMAIL") && has(h, "CONTACT_ID") &&
		(has(h, "STATE_PROVINCE_REGION") ||
		 has(h, "ALTERNATE_EMAILS") || has(h, "UNIQUE_NAME"));
}

static int is_brevo(const struct header_set *h)
{
	return has(h, "EMAIL") &&
		(has(h, "ADDED_TIME") ||
		 (has(h, "CONTACT ID") && has(h, "EXT_ID")));
}

static int is_klaviyo(const struct header_set *h)
{
	return has(h, "Klaviyo ID") || has(h, "Email Marketing Consent") ||
		has(h, "Profile Created On");
}

static int is_hubspot(const struct header_set *h)
{
	if (has(h, "Portal Bounce") || has(h, "Portal Unsubscribe") ||
	    has(h, "Portal Spam Report") || has(h, "Global Bounce"))
		return 1;
	return (has(h, "Record ID") || has(h, "hs_object_id")) &&
		has_email_column(h);
}

static int is_substack(const struct header_set *h)
{
	return has(h, "email_disabled") &&
		(has(h, "active_subscription") ||
		 has(h, "stripe_connected_customer_id") || has(h, "expiry"));
}

static int is_beehiiv(const struct header_set *h)
{
	return has(h, "email") && has(h, "status") && has(h, "tier") &&
		has(h, "created_at");
}

static int is_mailerlite(const struct header_set *h)
{
	return has(h, "z_i_p") || (has(h, "last_name") &&
		has(h, "subscribed_at") && has(h, "unsubscribed_at"));
}

const struct preset *preset_detect(const char *path,
				   const char *const *headers, size_t n)
{
	/* In the order of esp-exports.md: strongest fingerprint first. */
	static const struct {
		const char *name;
		int (*test)(const struct header_set *h);
	} tests[] = {
		{ "mailchimp", is_mailchimp },
		{ "sendgrid", is_sendgrid },
		{ "brevo", is_brevo },
		{ "klaviyo", is_klaviyo },
		{ "hubspot", is_hubspot },
		{ "substack", is_substack },
		{ "beehiiv", is_beehiiv },
		{ "mailerlite", is_mailerlite },
	};
	struct header_set h = { headers, n };
	const char *status;
	int unconfirmed;
	size_t i;

	if (preset_mailchimp_file(path, &status, &unconfirmed))
		return preset_find("mailchimp");
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (tests[i].test(&h))
			return preset_find(tests[i].name);
	return preset_find("generic");
}
