/*
 * roles: what a column of a provider's export can mean, the vocabulary
 * that presets (the tables) and mapping (which reads them) share.
 *
 * Both headers include this one and neither includes the other, so the
 * dependency goes one way: mapping.c reads presets.h, presets knows
 * nothing of mapping.
 */
#ifndef MB_ROLES_H
#define MB_ROLES_H

enum field_role {
	FIELD_IGNORE,
	FIELD_EMAIL,
	FIELD_EXTERNAL_ID,
	FIELD_FIRST_NAME,
	FIELD_LAST_NAME,
	FIELD_DISPLAY_NAME,
	FIELD_TAGS,
	FIELD_STATUS,            /* drives suppression; not sent */
	FIELD_CUSTOM,
	FIELD_ATTRIBUTES,        /* a JSON object whose members are custom
				    fields (listmonk's attributes) */
};

/* How a FIELD_STATUS column's cell is read. */
enum status_rule {
	STATUS_VALUE,            /* a status word: "unsubscribed", "bounced" ... */
	STATUS_NONEMPTY,         /* any value means do-not-email (UNSUB_TIME) */
	STATUS_TRUE,             /* true/TRUE/yes/1 means do-not-email */
	STATUS_FALSE,            /* false/no/0 means do-not-email (Ghost's
				    subscribed_to_emails) */
	STATUS_CONSENT,          /* consent word: UNSUBSCRIBED / NEVER_SUBSCRIBED */
	STATUS_SUPPRESSIONS,     /* Klaviyo list: any entry means do-not-email,
				    the reason read from its words */
};

/* How a FIELD_TAGS column's cell is split. */
enum tags_format {
	TAGS_LIST,               /* "a, b; c": split on , and ; */
	TAGS_MAILCHIMP,          /* "A","B": a one-line CSV */
	TAGS_JSON_LIST,          /* ["vip","swim"] (Klaviyo Shopify Tags) */
	TAGS_PIPE,               /* "a|b": split on | only (Mautic) */
};

/* One status word and what it means (word in loose form, see presets.h). */
struct status_word {
	const char *word;
	const char *reason;      /* suppression reason, or NULL */
	int unconfirmed;         /* never subscribed, pending */
};

#endif
