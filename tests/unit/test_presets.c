/*
 * presets: auto-detection from header fingerprints and Mailchimp file
 * names, table lookups, status words.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "presets.h"

#define MAX_HEADERS 64

/* Split a comma- or semicolon-separated header line (no quoting). */
static size_t split(const char *line, char sep, char *store,
		    const char **headers)
{
	size_t n = 0;
	char *p;

	strcpy(store, line);
	headers[n++] = store;
	for (p = store; *p; p++) {
		if (*p == sep) {
			*p = '\0';
			headers[n++] = p + 1;
		}
	}
	return n;
}

static const char *detect(const char *path, const char *line, char sep)
{
	static char store[4096];
	const char *headers[MAX_HEADERS];
	size_t n = split(line, sep, store, headers);

	return preset_detect(path, headers, n)->name;
}

static const struct {
	const char *path;
	const char *header;
	char sep;
	const char *want;
} detect_cases[] = {
	/* Mailchimp: the full subscribed header (Ghost fixture) */
	{ "export.csv", "Email Address,First Name,Last Name,Company,Position,"
	  "ZIP Code,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,"
	  "LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,"
	  "LEID,EUID,NOTES,TAGS", ',', "mailchimp" },
	/* a lone unsubscribed or cleaned file, any name */
	{ "a.csv", "Email Address,First Name,MEMBER_RATING,UNSUB_TIME,"
	  "UNSUB_CAMPAIGN_TITLE", ',', "mailchimp" },
	{ "a.csv", "Email Address,CLEAN_TIME,CLEAN_CAMPAIGN_TITLE", ',',
	  "mailchimp" },
	{ "a.csv", "Email Address,LEID,EUID", ',', "mailchimp" },
	{ "a.csv", "email address,member_rating,optin_time", ',', "mailchimp" },
	/* Mailchimp by file name alone (a segment of columns) */
	{ "members_export_a1b2c3d4e5/subscribed_members_export_a1b2c3d4e5.csv",
	  "Email Address,First Name", ',', "mailchimp" },
	{ "/x/nonsubscribed_members_export_a1b2c3d4e5.csv.gz", "Email Address",
	  ',', "mailchimp" },
	{ "CLEANED_MEMBERS_EXPORT_0123456789.csv", "Email", ',', "mailchimp" },
	/* SendGrid: the Marketing Campaigns header */
	{ "contacts.csv", "EMAIL,FIRST_NAME,LAST_NAME,ADDRESS_LINE_1,"
	  "ADDRESS_LINE_2,CITY,STATE_PROVINCE_REGION,POSTAL_CODE,COUNTRY,"
	  "ALTERNATE_EMAILS,PHONE_NUMBER,WHATSAPP,LINE,FACEBOOK,UNIQUE_NAME,"
	  "CREATED_AT,UPDATED_AT,CONTACT_ID,NAME,CAR,COMPANY_NAME,"
	  "PHONE_NUMBER_ID,EXTERNAL_ID,ANONYMOUS_ID", ',', "sendgrid" },
	{ "c.csv", "EMAIL,CONTACT_ID,UNIQUE_NAME", ',', "sendgrid" },
	/* Brevo: ; and the full header, or the minimal one */
	{ "brevo.csv", "CONTACT ID;EMAIL;LASTNAME;FIRSTNAME;WHATSAPP;SMS;"
	  "DOUBLE_OPT-IN;OPT_IN;LANDLINE_NUMBER;EXT_ID;CONTACT_TIMEZONE;"
	  "JOB_TITLE;LINKEDIN;ADDED_TIME;MODIFIED_TIME", ';', "brevo" },
	{ "b.csv", "EMAIL;ADDED_TIME;MODIFIED_TIME", ';', "brevo" },
	{ "b.csv", "CONTACT ID;EMAIL;EXT_ID", ';', "brevo" },
	/* Klaviyo: any of three columns */
	{ "k.csv", "Email,Klaviyo ID,First Name,Last Name,Organization,Title,"
	  "Phone Number,Address,Address 2,City,State / Region,Country,"
	  "Zip Code,Latitude,Longitude,Source,IP Address,"
	  "Email Marketing Consent,Email Marketing Consent Timestamp,"
	  "Historic Customer Lifetime Value,Profile Created On,Date Added,"
	  "Email Suppressions", ',', "klaviyo" },
	{ "k.csv", "Email,Email Marketing Consent", ',', "klaviyo" },
	{ "k.csv", "Email,First Name,Profile Created On", ',', "klaviyo" },
	{ "k.csv", "Klaviyo ID", ',', "klaviyo" },
	/* HubSpot: labels, internal names, the unsubscribes/bounces file */
	{ "h.csv", "Record ID,First Name,Last Name,Email,Phone Number,"
	  "Contact owner,Lead Status,Create Date,Unsubscribed from all email",
	  ',', "hubspot" },
	{ "h.csv", "hs_object_id,firstname,lastname,email,hs_email_optout",
	  ',', "hubspot" },
	{ "h.csv", "Email,Portal Bounce,Portal Unsubscribe,Portal Spam Report,"
	  "Global Bounce,Marketing Information", ',', "hubspot" },
	{ "h.csv", "Record ID,Company name,Phone", ',', "generic" },
	/* Substack: both email-list files */
	{ "s.csv", "email,active_subscription,expiry,email_disabled,created_at",
	  ',', "substack" },
	{ "s.csv", "email,expiry,email_disabled,stripe_connected_customer_id,"
	  "type", ',', "substack" },
	{ "s.csv", "email,email_disabled", ',', "generic" },
	/* beehiiv */
	{ "bh.csv", "email,First Name,Last Name,status,tier,created_at,"
	  "stripe_customer_id,Free Tier,Premium Tier,unsubscribed_at,"
	  "Subscription Date (Substack)", ',', "beehiiv" },
	/* MailerLite: z_i_p, or the three columns */
	{ "ml.csv", "email,name,last_name,company,country,city,phone,state,"
	  "z_i_p,status,subscribed_at", ',', "mailerlite" },
	{ "ml.csv", "Email,last_name,subscribed_at,unsubscribed_at", ',',
	  "mailerlite" },
	/* no reliable fingerprint: generic */
	{ "kit.csv", "first_name,email_address,state,created_at,tags", ',',
	  "generic" },
	{ "ac.csv", "Email,First Name,Last Name,Phone,Organization,Tags,"
	  "Date Created,IP", ',', "generic" },
	{ "cio.csv", "id,email,cio_id,unsubscribed,plan", ',', "generic" },
	{ "ic.csv", "email,name,user_id,phone,created_at,signed_up_at,"
	  "unsubscribed_from_emails,marked_email_as_spam,has_hard_bounced",
	  ',', "generic" },
	{ "app.csv", "Email,Name,Phone", ',', "generic" },
	/* case-insensitive (mapping_build trims before detecting) */
	{ "x.csv", "EMAIL,KLAVIYO id", ',', "klaviyo" },
	{ "x.csv", "Email,Klaviyo  ID", ',', "generic" },
	/* Mailchimp in German (listmonk issue 688) and a 2013 header */
	{ "seg.csv", "Emailadresse,Vorname,Nachname,Erlaubnis zum Marketing,"
	  "MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LEID,EUID",
	  ',', "mailchimp" },
	/* issue 15: one fixture header each, then the real files' headers */
	{ "g.csv", "id,email,name,note,subscribed_to_emails,complimentary_plan,"
	  "stripe_customer_id,created_at,deleted_at,labels,tiers", ',',
	  "ghost" },
	{ "g.csv", "email,subscribed,labels", ',', "ghost" },
	{ "g.csv", "email,labels", ',', "ghost" },
	{ "g.csv", "Email,Labels", ',', "generic" },
	{ "l.csv", "uuid,email,name,attributes,status,created_at,updated_at",
	  ',', "listmonk" },
	{ "l.csv", "email,name,attributes", ',', "listmonk" },
	{ "k.csv", "Email,First name,Last name,Data,Status,External ID", ',',
	  "keila" },
	{ "k.csv", "Email;First name;Last name;Status", ';', "keila" },
	{ "k.csv", "Email,First Name,Last Name,Status", ',', "generic" },
	{ "m.csv", "id,email,firstname,lastname,company,points,tags,"
	  "date_added,date_identified,doNotEmail", ',', "mautic" },
	{ "m.csv", "email,firstname,company", ',', "mautic" },
	{ "b.csv", "email,notes,metadata,tags,secondary_id,subscriber_type,"
	  "creation_date,ip_address,source", ',', "buttondown" },
	{ "s.csv", "Name,Email,Company,Joined,Status,IP", ',', "sendy" },
	{ "cc.csv", "Email address,First name,Last name,Company,"
	  "Email permission status,Email Lists,Tags", ',', "constantcontact" },
	{ "aw.csv", "Email,Name,Status,Subscribe Date,Unsubscribe Date,"
	  "Verified Date,IP Address,Ad Tracking,Tags", ',', "aweber" },
	{ "gr.csv", "Email,Name,Campaign,Origin,Subscription date,IP address,"
	  "Tags,Status,Reason", ',', "getresponse" },
	{ "cm.csv", "Email Address,Name,Date Subscribed,Subscriber IP,State,"
	  "Consent to track", ',', "campaignmonitor" },
	{ "eo.csv", "Email address,First name,Last name,Status,Tags,"
	  "Subscribed at,IP address", ',', "emailoctopus" },
	{ "mo.csv", "Email,Name,CreatedOn,UpdatedOn,UnsubscribedOn,"
	  "SubscribeType,SubscribeMethod", ',', "moosend" },
	{ "om.csv", "Email,First name,Last name,Email status,SMS status,"
	  "Email opt-in date,Email opt-in IP,Tags", ',', "omnisend" },
	{ "dr.csv", "email,first_name,last_name,status,tags,created_at,"
	  "ip_address,user_id,lifetime_value,time_zone,eu_consent", ',',
	  "drip" },
	{ "lo.csv", "email,firstName,lastName,subscribed,userGroup,userId,"
	  "source,optInStatus,createdAt", ',', "loops" },
	/* a subscribed_ prefix alone is not a Mailchimp name */
	{ "subscribed_users.csv", "email,name", ',', "generic" },
	{ NULL, "email,name", ',', "generic" },
};

Test(presets, detect_every_provider)
{
	size_t i;

	for (i = 0; i < sizeof(detect_cases) / sizeof(detect_cases[0]); i++) {
		const char *got = detect(detect_cases[i].path,
					 detect_cases[i].header,
					 detect_cases[i].sep);

		cr_expect_str_eq(got, detect_cases[i].want,
				 "case %zu (%s): got %s, want %s", i,
				 detect_cases[i].header, got,
				 detect_cases[i].want);
	}
}

Test(presets, mailchimp_file_names)
{
	static const struct {
		const char *path;
		int match;
		const char *status;
		int unconfirmed;
	} names[] = {
		{ "subscribed_members_export_a1b2c3d4e5.csv", 1, NULL, 0 },
		{ "dir/unsubscribed_members_export_a1b2c3d4e5.csv", 1,
		  "unsubscribed", 0 },
		{ "/a/b/cleaned_members_export_a1b2c3d4e5.csv.gz", 1,
		  "cleaned", 0 },
		{ "nonsubscribed_members_export_a1b2c3d4e5.csv", 1, NULL, 1 },
		{ "Unsubscribed_Members_Export_X.csv", 1, "unsubscribed", 0 },
		{ "members_export_a1b2c3d4e5.csv", 0, NULL, 0 },
		{ "my_unsubscribed_members_export_x.csv", 0, NULL, 0 },
		{ "unsubscribed_members_export_x/data.csv", 0, NULL, 0 },
		/* Zip members, as stage names them: "ZIP:MEMBER". */
		{ "export.zip:unsubscribed_members_export_x.csv", 1,
		  "unsubscribed", 0 },
		{ "/in/export.zip:members_export_x/cleaned_members_export_x"
		  ".csv", 1, "cleaned", 0 },
		{ "export.zip:dir\\nonsubscribed_members_export_x.csv", 1,
		  NULL, 1 },
		{ "cleaned_members_export_x.zip:data.csv", 0, NULL, 0 },
		{ "", 0, NULL, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *status = "untouched";
		int unconfirmed = -1;
		int match = preset_mailchimp_file(names[i].path, &status,
						  &unconfirmed);

		cr_expect_eq(match, names[i].match, "%s", names[i].path);
		if (!match)
			continue;
		if (names[i].status)
			cr_expect_str_eq(status, names[i].status, "%s",
					 names[i].path);
		else
			cr_expect_null(status, "%s", names[i].path);
		cr_expect_eq(unconfirmed, names[i].unconfirmed, "%s",
			     names[i].path);
	}
	cr_assert_eq(preset_mailchimp_file(NULL, NULL, NULL), 0);
}

Test(presets, names_and_find)
{
	static const char *const want[] = {
		"auto", "mailchimp", "sendgrid", "klaviyo", "hubspot", "kit",
		"activecampaign", "brevo", "mailerlite", "customerio",
		"beehiiv", "substack", "intercom", "ghost", "listmonk",
		"keila", "mautic", "buttondown", "sendy", "constantcontact",
		"aweber", "getresponse", "campaignmonitor", "emailoctopus",
		"moosend", "omnisend", "drip", "loops", "generic",
	};
	const char *const *names = preset_names();
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cr_assert_not_null(names[i]);
		cr_assert_str_eq(names[i], want[i]);
		if (i > 0) {
			cr_assert_not_null(preset_find(want[i]));
			cr_assert_str_eq(preset_find(want[i])->name, want[i]);
		}
	}
	cr_assert_null(names[i]);
	cr_assert_null(preset_find("auto"));
	cr_assert_null(preset_find("Mailchimp"));
	cr_assert_null(preset_find("convertkit"));
}

Test(presets, loose_form)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "First Name", "firstname" },
		{ "first_name", "firstname" },
		{ "FIRSTNAME", "firstname" },
		{ "E-mail", "email" },
		{ " Email Address ", "emailaddress" },
		{ "State / Region", "stateregion" },
		{ "$consent_method", "consentmethod" },
		{ "Prénom", "prnom" },
		{ "", "" },
	};
	char out[PRESET_LOOSE_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		preset_loose(cases[i].in, out, sizeof(out));
		cr_expect_str_eq(out, cases[i].want, "%s", cases[i].in);
	}
	/* truncated to the buffer, always terminated */
	preset_loose("abcdefghij", out, 4);
	cr_assert_str_eq(out, "abc");
}

Test(presets, column_tables)
{
	const struct preset *cio = preset_find("customerio");
	const struct preset *ml = preset_find("mailerlite");
	const struct preset *ic = preset_find("intercom");
	const struct preset *generic = preset_find("generic");
	const struct preset *mc = preset_find("mailchimp");
	const struct preset_column *c;

	/* Customer.io: "id" is the identifier, "ID"/"Id" are other things */
	c = preset_column(cio, "id", "id");
	cr_assert_not_null(c);
	cr_assert_eq(c->role, FIELD_EXTERNAL_ID);
	cr_assert_null(preset_column(cio, "id", "ID"));
	cr_assert_null(preset_fallback(cio, "id"));
	/* MailerLite "name" is the first name, Intercom's is the whole name */
	cr_assert_eq(preset_column(ml, "name", "name")->role, FIELD_FIRST_NAME);
	cr_assert_eq(preset_column(ic, "name", "name")->role,
		     FIELD_DISPLAY_NAME);
	cr_assert_eq(preset_column(ic, "userid", "user_id")->role,
		     FIELD_EXTERNAL_ID);
	/* user_id is an external id in generic files, not in Mailchimp's */
	cr_assert_eq(preset_fallback(generic, "userid")->role,
		     FIELD_EXTERNAL_ID);
	cr_assert_null(preset_fallback(mc, "userid"));
	cr_assert_eq(preset_fallback(mc, "externalid")->role,
		     FIELD_EXTERNAL_ID);
	cr_assert_null(preset_fallback(generic, "id"));
	/* the shared synonyms */
	cr_assert_eq(preset_fallback(mc, "email")->role, FIELD_EMAIL);
	cr_assert_eq(preset_fallback(mc, "fname")->role, FIELD_FIRST_NAME);
	cr_assert_eq(preset_fallback(mc, "surname")->role, FIELD_LAST_NAME);
	cr_assert_eq(preset_fallback(mc, "fullname")->role,
		     FIELD_DISPLAY_NAME);
	cr_assert_null(preset_fallback(mc, "mailaddress"));
	/* tags and status columns: generic only */
	cr_assert_null(preset_fallback(mc, "status"));
	cr_assert_eq(preset_fallback(generic, "status")->role, FIELD_STATUS);
	cr_assert_eq(preset_fallback(generic, "tags")->role, FIELD_TAGS);
	cr_assert_eq(preset_column(mc, "tags", "TAGS")->tags, TAGS_MAILCHIMP);
}

Test(presets, status_words)
{
	static const struct status_word kit_like[] = {
		{ "inactive", NULL, 1 },
		{ NULL, NULL, 0 },
	};
	const struct status_word *w;

	w = preset_status_word(NULL, "unsubscribed");
	cr_assert_str_eq(w->reason, "unsubscribed");
	w = preset_status_word(NULL, "junk");
	cr_assert_str_eq(w->reason, "complained");
	w = preset_status_word(NULL, "neversubscribed");
	cr_assert_null(w->reason);
	cr_assert_eq(w->unconfirmed, 1);
	cr_assert_null(preset_status_word(NULL, "inactive"));
	cr_assert_null(preset_status_word(NULL, "active"));
	cr_assert_null(preset_status_word(NULL, "subscribed"));
	w = preset_status_word(kit_like, "inactive");
	cr_assert_eq(w->unconfirmed, 1);
	/* provider words first, then the common ones */
	cr_assert_str_eq(preset_status_word(kit_like, "bounced")->reason,
			 "bounced");
}

/* One status cell of a preset's column, read as mapping.c reads it. */
struct word_case {
	const char *preset, *header, *value;
	const char *reason;      /* NULL: no signal or unconfirmed */
	int unconfirmed;
};

static const struct word_case word_cases[] = {
	{ "ghost", "subscribedtoemails", "false", "unsubscribed", 0 },
	{ "listmonk", "status", "blocklisted", "blocklisted", 0 },
	{ "listmonk", "status", "disabled", "unsubscribed", 0 },
	{ "listmonk", "status", "enabled", NULL, 0 },
	{ "listmonk", "subscriptionstatus", "unconfirmed", NULL, 1 },
	{ "listmonk", "subscriptionstatus", "unsubscribed", "unsubscribed", 0 },
	{ "keila", "status", "unreachable", "bounced", 0 },
	{ "keila", "status", "unsubscribed", "unsubscribed", 0 },
	{ "buttondown", "subscribertype", "unactivated", NULL, 1 },
	{ "buttondown", "subscribertype", "spammy", "complained", 0 },
	{ "buttondown", "subscribertype", "removed", "deleted", 0 },
	{ "buttondown", "subscribertype", "undeliverable", "bounced", 0 },
	{ "buttondown", "subscribertype", "regular", NULL, 0 },
	{ "sendy", "status", "unconfirmed", NULL, 1 },
	{ "sendy", "status", "markedasspam", "complained", 0 },
	{ "sendy", "status", "softbounced", NULL, 0 },
	{ "sendy", "status", "bounced", "bounced", 0 },
	{ "constantcontact", "emailpermissionstatus", "pendingconfirmation",
	  NULL, 1 },
	{ "constantcontact", "emailpermissionstatus", "unsubscribed",
	  "unsubscribed", 0 },
	{ "constantcontact", "emailpermissionstatus", "implicit", NULL, 0 },
	{ "aweber", "status", "unconfirmed", NULL, 1 },
	{ "getresponse", "reason", "user", "unsubscribed", 0 },
	{ "getresponse", "reason", "complaint", "complained", 0 },
	{ "getresponse", "status", "unconfirmed", NULL, 1 },
	{ "campaignmonitor", "state", "deleted", "deleted", 0 },
	{ "campaignmonitor", "state", "unconfirmed", NULL, 1 },
	{ "emailoctopus", "status", "pending", NULL, 1 },
	{ "emailoctopus", "status", "subscribed", NULL, 0 },
	{ "moosend", "subscribetype", "3", "bounced", 0 },
	{ "moosend", "subscribetype", "removed", "deleted", 0 },
	{ "omnisend", "emailstatus", "nonsubscribed", NULL, 1 },
	{ "omnisend", "emailstatus", "unsubscribed", "unsubscribed", 0 },
	{ "drip", "status", "unsubscribed", "unsubscribed", 0 },
	{ "loops", "optinstatus", "pending", NULL, 1 },
	{ "loops", "optinstatus", "rejected", "unsubscribed", 0 },
};

Test(presets, status_words_of_each_preset)
{
	const struct preset_column *c;
	const struct status_word *w;
	size_t i;

	for (i = 0; i < sizeof(word_cases) / sizeof(word_cases[0]); i++) {
		const struct word_case *k = &word_cases[i];

		c = preset_column(preset_find(k->preset), k->header, k->header);
		cr_assert_not_null(c, "%s %s", k->preset, k->header);
		cr_assert_eq(c->role, FIELD_STATUS);
		if (c->rule != STATUS_VALUE) {
			cr_assert_eq(c->rule, STATUS_FALSE);
			cr_assert_str_eq(c->reason, k->reason);
			continue;
		}
		w = preset_status_word(c->words, k->value);
		cr_assert_not_null(w, "%s %s", k->preset, k->value);
		if (k->reason)
			cr_expect_str_eq(w->reason, k->reason, "%s %s",
					 k->preset, k->value);
		else
			cr_expect_null(w->reason, "%s %s", k->preset,
				       k->value);
		cr_expect_eq(w->unconfirmed, k->unconfirmed, "%s %s",
			     k->preset, k->value);
	}
}

/* Consent evidence: which column feeds which fixed key, per preset. */
static const struct {
	const char *preset, *loose, *key;
} consent_cases[] = {
	{ "mailchimp", "optintime", "consent_optin_at" },
	{ "mailchimp", "optinip", "consent_optin_ip" },
	{ "mailchimp", "confirmtime", "consent_confirmed_at" },
	{ "mailchimp", "confirmip", "consent_confirmed_ip" },
	{ "mailerlite", "optedinat", "consent_optin_at" },
	{ "mailerlite", "optinip", "consent_optin_ip" },
	{ "buttondown", "ipaddress", "consent_optin_ip" },
	{ "sendy", "joined", "consent_optin_at" },
	{ "sendy", "ip", "consent_optin_ip" },
	{ "constantcontact", "emailoptindate", "consent_optin_at" },
	{ "aweber", "subscribedate", "consent_optin_at" },
	{ "aweber", "ipaddress", "consent_optin_ip" },
	{ "aweber", "verifieddate", "consent_confirmed_at" },
	{ "getresponse", "subscriptiondate", "consent_optin_at" },
	{ "getresponse", "ipaddress", "consent_optin_ip" },
	{ "campaignmonitor", "datesubscribed", "consent_optin_at" },
	{ "campaignmonitor", "subscriberip", "consent_optin_ip" },
	{ "emailoctopus", "subscribedat", "consent_optin_at" },
	{ "emailoctopus", "ipaddress", "consent_optin_ip" },
	{ "omnisend", "emailoptindate", "consent_optin_at" },
	{ "omnisend", "emailoptinip", "consent_optin_ip" },
	{ "drip", "ipaddress", "consent_optin_ip" },
};

Test(presets, consent_columns)
{
	const struct preset_column *c;
	size_t i;

	for (i = 0; i < sizeof(consent_cases) / sizeof(consent_cases[0]);
	     i++) {
		c = preset_column(preset_find(consent_cases[i].preset),
				  consent_cases[i].loose, NULL);
		cr_assert_not_null(c, "%s %s", consent_cases[i].preset,
				   consent_cases[i].loose);
		cr_expect_eq(c->role, FIELD_CUSTOM);
		cr_expect_str_eq(c->key, consent_cases[i].key);
		cr_expect(c->flags & PRESET_COL_CONSENT);
	}
	/* Klaviyo's consent timestamp may be an unsubscribe: not evidence */
	cr_assert_null(preset_column(preset_find("klaviyo"),
				     "emailmarketingconsenttimestamp", NULL));
}

Test(presets, localised_mailchimp_headers)
{
	static const struct {
		const char *header;
		enum field_role role;
	} cases[] = {
		{ "E-Mail-Adresse", FIELD_EMAIL }, { "Emailadresse", FIELD_EMAIL },
		{ "Vorname", FIELD_FIRST_NAME }, { "Nachname", FIELD_LAST_NAME },
		{ "Adresse e-mail", FIELD_EMAIL }, { "Prénom", FIELD_FIRST_NAME },
		{ "Nom", FIELD_LAST_NAME },
		{ "Dirección de correo electrónico", FIELD_EMAIL },
		{ "Nombre", FIELD_FIRST_NAME }, { "Apellidos", FIELD_LAST_NAME },
		{ "Endereço de e-mail", FIELD_EMAIL },
		{ "Sobrenome", FIELD_LAST_NAME },
		{ "Indirizzo email", FIELD_EMAIL }, { "Cognome", FIELD_LAST_NAME },
		{ "E-mailadres", FIELD_EMAIL }, { "Voornaam", FIELD_FIRST_NAME },
		{ "Achternaam", FIELD_LAST_NAME },
	};
	const struct preset *mc = preset_find("mailchimp");
	const struct preset_column *c;
	char loose[PRESET_LOOSE_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		preset_loose(cases[i].header, loose, sizeof(loose));
		c = preset_column(mc, loose, cases[i].header);
		if (!c)
			c = preset_fallback(mc, loose);
		cr_assert_not_null(c, "%s", cases[i].header);
		cr_expect_eq(c->role, cases[i].role, "%s", cases[i].header);
	}
}
