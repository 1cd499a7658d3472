/*
 * mapping: header roles, custom keys, statuses for every provider, tags,
 * rejects with their details, --map overrides, the no-email message.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mapping.h"

#define MAX_CELLS 64

/* A csv_row built from a separated line (no quoting) or from cells. */
struct row_fixture {
	char store[4096];
	struct csv_field fields[MAX_CELLS];
	struct csv_row row;
};

static const struct csv_row *row_cells(struct row_fixture *r,
				       const char *const *cells, size_t n)
{
	size_t i;

	cr_assert_leq(n, MAX_CELLS);
	for (i = 0; i < n; i++) {
		r->fields[i].data = cells[i];
		r->fields[i].len = strlen(cells[i]);
	}
	r->row.fields = r->fields;
	r->row.nfields = n;
	r->row.line = 2;
	r->row.error = NULL;
	return &r->row;
}

#define CELLS(...) ((const char *const []){ __VA_ARGS__ }), \
	(sizeof((const char *const []){ __VA_ARGS__ }) / sizeof(char *))

static const struct csv_row *row_line(struct row_fixture *r, const char *line,
				      char sep)
{
	const char *cells[MAX_CELLS];
	size_t n = 0;
	char *p;

	cr_assert_lt(strlen(line), sizeof(r->store));
	strcpy(r->store, line);
	cells[n++] = r->store;
	for (p = r->store; *p; p++) {
		if (*p == sep) {
			*p = '\0';
			cells[n++] = p + 1;
		}
	}
	return row_cells(r, cells, n);
}

/* One file: its mapping and a record to fill. */
struct fix {
	struct mapping m;
	struct record rec;
	struct err e;
	char sep;
	struct row_fixture header, data;
};

static void fix_init(struct fix *f)
{
	struct mapping empty = MAPPING_INIT;

	memset(f, 0, sizeof(*f));
	f->m = empty;
	record_init(&f->rec);
	err_clear(&f->e);
}

static void fix_release(struct fix *f)
{
	mapping_release(&f->m);
	record_release(&f->rec);
}

static enum mb_rc fix_build_opts(struct fix *f, const struct mapping_opts *o,
				 const char *path, const char *header)
{
	f->sep = strchr(header, ',') || !strchr(header, ';') ? ',' : ';';
	return mapping_build(&f->m, o, path, row_line(&f->header, header,
						       f->sep), &f->e);
}

static enum mb_rc fix_build(struct fix *f, const char *preset,
			    const char *path, const char *header)
{
	struct mapping_opts o = { preset, NULL, 0, NULL, 0 };

	return fix_build_opts(f, &o, path, header);
}

static void fix_apply(struct fix *f, const char *line)
{
	cr_assert_eq(mapping_apply(&f->m, row_line(&f->data, line, f->sep),
				   &f->rec, &f->e), MB_OK);
}

static void fix_apply_cells(struct fix *f, const char *const *cells, size_t n)
{
	cr_assert_eq(mapping_apply(&f->m, row_cells(&f->data, cells, n),
				   &f->rec, &f->e), MB_OK);
}

static const char *role_of(const struct fix *f, const char *header)
{
	static const char *const names[] = {
		"ignore", "email", "external_id", "first_name", "last_name",
		"display_name", "tags", "status", "custom", "attributes",
	};
	size_t i;

	for (i = 0; i < f->m.ncolumns; i++)
		if (strcmp(f->m.columns[i].header, header) == 0)
			return names[f->m.columns[i].role];
	return "(no such column)";
}

static const char *key_of(const struct fix *f, const char *header)
{
	size_t i;

	for (i = 0; i < f->m.ncolumns; i++)
		if (strcmp(f->m.columns[i].header, header) == 0)
			return f->m.columns[i].key ? f->m.columns[i].key : "";
	return "(no such column)";
}

/* ---- snake keys --------------------------------------------------------- */

Test(mapping, snake_keys)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "Company Name", "company_name" },
		{ "MEMBER_RATING", "member_rating" },
		{ "Email Address", "email_address" },
		{ "ZIP Code", "zip_code" },
		{ "State / Region", "state_region" },
		{ "  Address 2  ", "address_2" },
		{ "$consent_method", "consent_method" },
		{ "Subscription Date (Substack)", "subscription_date_substack" },
		{ "DOUBLE_OPT-IN", "double_opt_in" },
		{ "__a__b__", "a_b" },
		{ "z_i_p", "z_i_p" },
		{ "firstName", "firstname" },
		{ "2FA Enabled?", "2fa_enabled" },
		{ "Prénom", "prenom" },
		{ "Straße", "strasse" },
		{ "ÆØÅ", "aeoa" },
		{ "Größe × Breite", "grosse_breite" },
		{ "名前", "" },
		{ "Name 名前 2", "name_2" },
		{ "%%%", "" },
		{ "", "" },
	};
	struct buf out = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(mapping_snake_key(cases[i].in, &out), MB_OK);
		cr_expect_str_eq(buf_str(&out), cases[i].want, "'%s' -> '%s'",
				 cases[i].in, buf_str(&out));
	}
	buf_release(&out);
}

/* ---- roles -------------------------------------------------------------- */

#define MAILCHIMP_HEADER "Email Address,First Name,Last Name,Company," \
	"Position,ZIP Code,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME," \
	"CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION," \
	"LAST_CHANGED,LEID,EUID,NOTES,TAGS"

Test(mapping, mailchimp_roles)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv", MAILCHIMP_HEADER), MB_OK,
		     "%s", f.e.msg);
	cr_assert_str_eq(f.m.preset, "mailchimp");
	cr_assert_eq(f.m.email_column, 0);
	cr_assert_str_eq(role_of(&f, "Email Address"), "email");
	cr_assert_str_eq(role_of(&f, "First Name"), "first_name");
	cr_assert_str_eq(role_of(&f, "Last Name"), "last_name");
	cr_assert_str_eq(role_of(&f, "TAGS"), "tags");
	cr_assert(f.m.columns[22].is_mailchimp_tags);
	cr_assert_eq(f.m.columns[22].tags_format, TAGS_MAILCHIMP);
	/* list-specific ids are not the customer's external id */
	cr_assert_str_eq(role_of(&f, "LEID"), "custom");
	cr_assert_str_eq(key_of(&f, "LEID"), "leid");
	cr_assert_str_eq(key_of(&f, "EUID"), "euid");
	cr_assert_str_eq(key_of(&f, "MEMBER_RATING"), "member_rating");
	cr_assert_str_eq(key_of(&f, "ZIP Code"), "zip_code");
	cr_assert_null(f.m.file_status);
	cr_assert_eq(f.m.file_unconfirmed, 0);
	cr_assert_eq(f.m.norder, 19);
	fix_release(&f);
}

/* Which column plays which role, provider by provider. */
static const struct {
	const char *preset, *header;
	const char *column, *role, *key;
} role_cases[] = {
	{ "auto", "EMAIL,FIRST_NAME,LAST_NAME,STATE_PROVINCE_REGION,"
	  "CONTACT_ID,PHONE_NUMBER_ID,EXTERNAL_ID,ANONYMOUS_ID",
	  "EXTERNAL_ID", "external_id", NULL },
	{ "auto", "EMAIL,FIRST_NAME,LAST_NAME,STATE_PROVINCE_REGION,"
	  "CONTACT_ID,EXTERNAL_ID", "CONTACT_ID", "custom", "contact_id" },
	{ "auto", "Email,Klaviyo ID,First Name,Last Name,Email Suppressions",
	  "Klaviyo ID", "custom", "klaviyo_id" },
	{ "auto", "Email,Klaviyo ID,Email Marketing Consent",
	  "Email Marketing Consent", "status", NULL },
	{ "auto", "Email,Klaviyo ID,Shopify Tags", "Shopify Tags", "tags",
	  NULL },
	{ "auto", "Record ID,First Name,Last Name,Email", "Record ID", "custom",
	  "record_id" },
	{ "auto", "hs_object_id,firstname,lastname,email", "hs_object_id",
	  "custom", "record_id" },
	{ "auto", "hs_object_id,firstname,lastname,email", "firstname",
	  "first_name", NULL },
	{ "auto", "hs_object_id,firstname,lastname,email", "lastname",
	  "last_name", NULL },
	{ "kit", "first_name,email_address,state,created_at,tags",
	  "email_address", "email", NULL },
	{ "kit", "first_name,email_address,state,created_at,tags", "state",
	  "status", NULL },
	{ "kit", "first_name,email_address,state,created_at,tags", "tags",
	  "tags", NULL },
	{ "activecampaign", "Email,First Name,Last Name,Tags,Status", "Tags",
	  "tags", NULL },
	{ "auto", "CONTACT ID;EMAIL;LASTNAME;FIRSTNAME;EXT_ID;ADDED_TIME",
	  "EXT_ID", "external_id", NULL },
	{ "auto", "CONTACT ID;EMAIL;LASTNAME;FIRSTNAME;EXT_ID;ADDED_TIME",
	  "FIRSTNAME", "first_name", NULL },
	{ "auto", "CONTACT ID;EMAIL;LASTNAME;FIRSTNAME;EXT_ID;ADDED_TIME",
	  "LASTNAME", "last_name", NULL },
	{ "auto", "CONTACT ID;EMAIL;LASTNAME;FIRSTNAME;EXT_ID;ADDED_TIME",
	  "CONTACT ID", "custom", "contact_id" },
	{ "auto", "email,name,last_name,z_i_p,status", "name", "first_name",
	  NULL },
	{ "auto", "email,name,last_name,z_i_p,status", "last_name",
	  "last_name", NULL },
	{ "auto", "email,name,last_name,z_i_p,status", "z_i_p", "custom",
	  "z_i_p" },
	{ "customerio", "id,email,cio_id,ID,unsubscribed", "id",
	  "external_id", NULL },
	{ "customerio", "id,email,cio_id,ID,unsubscribed", "ID", "custom",
	  "id" },
	{ "customerio", "id,email,cio_id,ID,unsubscribed", "unsubscribed",
	  "status", NULL },
	{ "auto", "email,First Name,Last Name,status,tier,created_at",
	  "First Name", "first_name", NULL },
	{ "auto", "email,First Name,Last Name,status,tier,created_at",
	  "tier", "custom", "tier" },
	{ "intercom", "email,name,user_id,unsubscribed_from_emails", "user_id",
	  "external_id", NULL },
	{ "intercom", "email,name,user_id,unsubscribed_from_emails", "name",
	  "display_name", NULL },
	/* generic: synonyms */
	{ "auto", "E-mail,Given Name,Surname,Phone", "E-mail", "email", NULL },
	{ "auto", "E-mail,Given Name,Surname,Phone", "Given Name",
	  "first_name", NULL },
	{ "auto", "E-mail,Given Name,Surname,Phone", "Surname", "last_name",
	  NULL },
	{ "auto", "mail,full name", "full name", "display_name", NULL },
	{ "auto", "user_id,email,tags,status", "user_id", "external_id",
	  NULL },
	{ "auto", "id,email", "id", "custom", "id" },
	{ "auto", "email,tags,status", "status", "status", NULL },
	/* a second column for a one-column role is kept as a custom field */
	{ "auto", "Email,E-mail", "E-mail", "custom", "e_mail" },
	{ "kit", "email_address,email", "email", "custom", "email" },
	/* the customer's own external id, whoever exported it */
	{ "mailchimp", "Email Address,External ID", "External ID",
	  "external_id", NULL },
	/* Mailchimp's user_id merge field is not known to be the app's id */
	{ "mailchimp", "Email Address,user_id", "user_id", "custom", "user_id" },
};

Test(mapping, roles_per_provider)
{
	size_t i;

	for (i = 0; i < sizeof(role_cases) / sizeof(role_cases[0]); i++) {
		struct fix f;

		fix_init(&f);
		cr_assert_eq(fix_build(&f, role_cases[i].preset, "x.csv",
				       role_cases[i].header), MB_OK,
			     "case %zu: %s", i, f.e.msg);
		cr_expect_str_eq(role_of(&f, role_cases[i].column),
				 role_cases[i].role, "case %zu: %s is %s", i,
				 role_cases[i].column,
				 role_of(&f, role_cases[i].column));
		if (role_cases[i].key)
			cr_expect_str_eq(key_of(&f, role_cases[i].column),
					 role_cases[i].key, "case %zu", i);
		fix_release(&f);
	}
}

Test(mapping, headers_trimmed_and_bom_dropped)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv",
			       "\xEF\xBB\xBF  Email Address  , First Name ,"
			       "MEMBER_RATING,OPTIN_TIME"), MB_OK, "%s",
		     f.e.msg);
	cr_assert_str_eq(f.m.preset, "mailchimp");
	cr_assert_str_eq(f.m.columns[0].header, "Email Address");
	cr_assert_str_eq(role_of(&f, "First Name"), "first_name");
	fix_release(&f);
}

/* ---- custom keys and canonical JSON -------------------------------------- */

Test(mapping, custom_keys_unique)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "generic", "x.csv",
			       "email,Company,company,COMPANY,,Company 2,"
			       "company_2, ,%%%"), MB_OK, "%s", f.e.msg);
	cr_assert_str_eq(f.m.columns[1].key, "company");
	cr_assert_str_eq(f.m.columns[2].key, "company_2");
	cr_assert_str_eq(f.m.columns[3].key, "company_3");
	cr_assert_str_eq(f.m.columns[4].key, "column_5");
	cr_assert_str_eq(f.m.columns[5].key, "company_2_2");
	cr_assert_str_eq(f.m.columns[6].key, "company_2_3");
	cr_assert_str_eq(f.m.columns[7].key, "column_8");
	cr_assert_str_eq(f.m.columns[8].key, "column_9");
	fix_release(&f);
}

Test(mapping, custom_json_sorted_typed_and_empty_omitted)
{
	struct fix f;
	size_t i;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv",
			       "zeta,Alpha,email,Mid Point,beta,When,Flag,"
			       "Zip"), MB_OK, "%s", f.e.msg);
	/* order holds the custom columns by key */
	cr_assert_eq(f.m.norder, 7);
	for (i = 1; i < f.m.norder; i++)
		cr_assert_lt(strcmp(f.m.columns[f.m.order[i - 1]].key,
				    f.m.columns[f.m.order[i]].key), 0);
	fix_apply(&f, " 12 , -0.5 ,a@example.com,  , x ,"
		  "2018-02-12 10:54:27,TRUE,02134");
	cr_assert_null(f.rec.reject);
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"alpha\":-0.5,\"beta\":\"x\",\"flag\":true,"
			 "\"when\":\"2018-02-12T10:54:27Z\",\"zeta\":12,"
			 "\"zip\":\"02134\"}");
	cr_assert_str_eq(buf_str(&f.rec.tags), "[]");
	/* all empty: the empty object */
	fix_apply(&f, ",,a@example.com,,,,,");
	cr_assert_str_eq(buf_str(&f.rec.custom), "{}");
	fix_release(&f);
}

Test(mapping, brevo_dates_only_in_brevo)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "b.csv",
			       "EMAIL;ADDED_TIME;MODIFIED_TIME"), MB_OK);
	cr_assert_str_eq(f.m.preset, "brevo");
	fix_apply(&f, "a@example.com;18-06-2024;28-01-2026 14:05");
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"added_time\":\"2024-06-18\","
			 "\"modified_time\":\"2026-01-28T14:05:00Z\"}");
	fix_release(&f);
	fix_init(&f);
	cr_assert_eq(fix_build(&f, "generic", "b.csv",
			       "EMAIL;ADDED_TIME"), MB_OK);
	fix_apply(&f, "a@example.com;18-06-2024");
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"added_time\":\"18-06-2024\"}");
	fix_release(&f);
}

/* ---- records ------------------------------------------------------------ */

Test(mapping, record_fields)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv",
			       "EMAIL,FIRST_NAME,LAST_NAME,STATE_PROVINCE_REGION,"
			       "CONTACT_ID,EXTERNAL_ID"), MB_OK);
	fix_apply(&f, "  Jane.Doe+News@Example.COM ,  Jane , Doe ,CA,"
		  "c-1,  u-42 ");
	cr_assert_null(f.rec.reject);
	cr_assert_str_eq(buf_str(&f.rec.email), "jane.doe+news@example.com");
	cr_assert_str_eq(buf_str(&f.rec.first_name), "Jane");
	cr_assert_str_eq(buf_str(&f.rec.last_name), "Doe");
	cr_assert_str_eq(buf_str(&f.rec.display_name), "");
	cr_assert_str_eq(buf_str(&f.rec.external_id), "u-42");
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"contact_id\":\"c-1\","
			 "\"state_province_region\":\"CA\"}");
	cr_assert_null(f.rec.suppress);
	cr_assert_eq(f.rec.unconfirmed, 0);
	/* the next row starts from a clean record */
	fix_apply(&f, "b@example.com,,,,,");
	cr_assert_str_eq(buf_str(&f.rec.first_name), "");
	cr_assert_str_eq(buf_str(&f.rec.external_id), "");
	cr_assert_str_eq(buf_str(&f.rec.custom), "{}");
	fix_release(&f);
}

Test(mapping, display_name_from_angle_address)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "generic", "x.csv", "email,phone"), MB_OK);
	fix_apply(&f, "Jane Doe <Jane@Example.com>,1");
	cr_assert_null(f.rec.reject);
	cr_assert_str_eq(buf_str(&f.rec.email), "jane@example.com");
	cr_assert_str_eq(buf_str(&f.rec.display_name), "Jane Doe");
	fix_apply(&f, "\"Doe\"\" Jane\" <jane@example.com>,1");
	cr_assert_str_eq(buf_str(&f.rec.display_name), "Doe\"\" Jane");
	fix_apply(&f, "<jane@example.com>,1");
	cr_assert_str_eq(buf_str(&f.rec.display_name), "");
	fix_release(&f);
	/* a name column wins */
	fix_init(&f);
	cr_assert_eq(fix_build(&f, "generic", "x.csv", "email,name"), MB_OK);
	fix_apply(&f, "J <jane@example.com>,Jane Doe");
	cr_assert_str_eq(buf_str(&f.rec.display_name), "Jane Doe");
	fix_release(&f);
}

/* ---- statuses ----------------------------------------------------------- */

static const struct {
	const char *preset, *path, *header, *row;
	const char *suppress;
	int unconfirmed;
} status_cases[] = {
	/* Mailchimp: the file decides */
	{ "auto", "subscribed_members_export_a1b2c3d4e5.csv",
	  "Email Address,First Name", "a@example.com,A", NULL, 0 },
	{ "auto", "unsubscribed_members_export_a1b2c3d4e5.csv",
	  "Email Address,First Name", "a@example.com,A", "unsubscribed", 0 },
	{ "auto", "dir/cleaned_members_export_a1b2c3d4e5.csv",
	  "Email Address,First Name", "a@example.com,A", "cleaned", 0 },
	{ "auto", "nonsubscribed_members_export_a1b2c3d4e5.csv",
	  "Email Address,First Name", "a@example.com,A", NULL, 1 },
	{ "mailchimp", "unsubscribed_members_export_a1b2c3d4e5.csv",
	  "Email Address", "a@example.com", "unsubscribed", 0 },
	/* ... or, in a lone file, UNSUB_TIME / CLEAN_TIME */
	{ "auto", "segment.csv", "Email Address,UNSUB_TIME,UNSUB_REASON",
	  "a@example.com,2019-01-02 10:00:00,No longer interested",
	  "unsubscribed", 0 },
	{ "auto", "segment.csv", "Email Address,UNSUB_TIME,UNSUB_REASON",
	  "a@example.com,,", NULL, 0 },
	{ "auto", "segment.csv", "Email Address,CLEAN_TIME",
	  "a@example.com,2019-01-02 10:00:00", "cleaned", 0 },
	/* the file name applies to the mailchimp preset only */
	{ "generic", "unsubscribed_members_export_a1b2c3d4e5.csv",
	  "Email Address", "a@example.com", NULL, 0 },
	/* Klaviyo: suppressions win over consent */
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,SUBSCRIBED,", NULL, 0 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,UNSUBSCRIBED,",
	  "unsubscribed", 0 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,Never Subscribed,",
	  NULL, 1 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,never_subscribed,",
	  NULL, 1 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,SUBSCRIBED,"
	  "[{\"reason\": \"HARD_BOUNCE\"; \"timestamp\": \"2023-05-01\"}]",
	  "bounced", 0 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,SUBSCRIBED,SPAM_COMPLAINT",
	  "complained", 0 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,SUBSCRIBED,USER_SUPPRESSED",
	  "unsubscribed", 0 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,SUBSCRIBED,INVALID_EMAIL",
	  "invalid", 0 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,NEVER_SUBSCRIBED,"
	  "UNSUBSCRIBE", "unsubscribed", 0 },
	{ "auto", "k.csv", "Email,Klaviyo ID,Email Marketing Consent,"
	  "Email Suppressions", "a@example.com,01H,SUBSCRIBED,[]", NULL, 0 },
	/* HubSpot: opt-out, and the unsubscribes/bounces file */
	{ "auto", "h.csv", "Record ID,Email,Unsubscribed from all email",
	  "1,a@example.com,true", "unsubscribed", 0 },
	{ "auto", "h.csv", "Record ID,Email,Unsubscribed from all email",
	  "1,a@example.com,false", NULL, 0 },
	{ "auto", "h.csv", "hs_object_id,email,hs_email_optout",
	  "1,a@example.com,TRUE", "unsubscribed", 0 },
	{ "auto", "h.csv", "Email,Portal Bounce,Portal Unsubscribe,"
	  "Portal Spam Report,Global Bounce", "a@example.com,TRUE,FALSE,FALSE,"
	  "FALSE", "bounced", 0 },
	{ "auto", "h.csv", "Email,Portal Bounce,Portal Unsubscribe,"
	  "Portal Spam Report,Global Bounce", "a@example.com,FALSE,TRUE,TRUE,"
	  "FALSE", "complained", 0 },
	{ "auto", "h.csv", "Email,Portal Bounce,Portal Unsubscribe,"
	  "Portal Spam Report,Global Bounce", "a@example.com,FALSE,TRUE,FALSE,"
	  "FALSE", "unsubscribed", 0 },
	{ "auto", "h.csv", "Email,Portal Bounce,Portal Unsubscribe,"
	  "Portal Spam Report,Global Bounce", "a@example.com,FALSE,FALSE,FALSE,"
	  "TRUE", "bounced", 0 },
	{ "auto", "h.csv", "Email,Portal Bounce,Portal Unsubscribe,"
	  "Portal Spam Report,Global Bounce", "a@example.com,FALSE,FALSE,FALSE,"
	  "FALSE", NULL, 0 },
	/* Kit */
	{ "kit", "k.csv", "email_address,state", "a@example.com,cancelled",
	  "unsubscribed", 0 },
	{ "kit", "k.csv", "email_address,state", "a@example.com,Canceled",
	  "unsubscribed", 0 },
	{ "kit", "k.csv", "email_address,status", "a@example.com,bounced",
	  "bounced", 0 },
	{ "kit", "k.csv", "email_address,state", "a@example.com,complained",
	  "complained", 0 },
	{ "kit", "k.csv", "email_address,state", "a@example.com,inactive",
	  NULL, 1 },
	{ "kit", "k.csv", "email_address,state", "a@example.com,Unconfirmed",
	  NULL, 1 },
	{ "kit", "k.csv", "email_address,state", "a@example.com,active",
	  NULL, 0 },
	{ "kit", "k.csv", "email_address,state", "a@example.com,Cold",
	  NULL, 0 },
	/* ActiveCampaign */
	{ "activecampaign", "a.csv", "Email,Status", "a@example.com,Unsubscribed",
	  "unsubscribed", 0 },
	{ "activecampaign", "a.csv", "Email,Status", "a@example.com,Bounced",
	  "bounced", 0 },
	{ "activecampaign", "a.csv", "Email,Status", "a@example.com,Unconfirmed",
	  NULL, 1 },
	{ "activecampaign", "a.csv", "Email,Status", "a@example.com,Active",
	  NULL, 0 },
	{ "activecampaign", "a.csv", "Email,Status", "a@example.com,Excluded",
	  "blocklisted", 0 },
	/* Brevo: the blocklist column */
	{ "brevo", "b.csv", "EMAIL;EMAIL_BLACKLISTED", "a@example.com;true",
	  "blocklisted", 0 },
	{ "brevo", "b.csv", "EMAIL;BLOCKLISTED", "a@example.com;1",
	  "blocklisted", 0 },
	{ "brevo", "b.csv", "EMAIL;EMAIL_BLACKLISTED", "a@example.com;false",
	  NULL, 0 },
	/* MailerLite */
	{ "auto", "m.csv", "email,z_i_p,status", "a@example.com,,unsubscribed",
	  "unsubscribed", 0 },
	{ "auto", "m.csv", "email,z_i_p,status", "a@example.com,,bounced",
	  "bounced", 0 },
	{ "auto", "m.csv", "email,z_i_p,status", "a@example.com,,junk",
	  "complained", 0 },
	{ "auto", "m.csv", "email,z_i_p,status", "a@example.com,,unconfirmed",
	  NULL, 1 },
	{ "auto", "m.csv", "email,z_i_p,status", "a@example.com,,active",
	  NULL, 0 },
	/* Customer.io */
	{ "customerio", "c.csv", "id,email,unsubscribed",
	  "u1,a@example.com,true", "unsubscribed", 0 },
	{ "customerio", "c.csv", "id,email,unsubscribed",
	  "u1,a@example.com,false", NULL, 0 },
	/* beehiiv: unsubscribed_at wins */
	{ "auto", "bh.csv", "email,status,tier,created_at,unsubscribed_at",
	  "a@example.com,active,free,,", NULL, 0 },
	{ "auto", "bh.csv", "email,status,tier,created_at,unsubscribed_at",
	  "a@example.com,inactive,free,,", "unsubscribed", 0 },
	{ "auto", "bh.csv", "email,status,tier,created_at,unsubscribed_at",
	  "a@example.com,invalid,free,,", "invalid", 0 },
	{ "auto", "bh.csv", "email,status,tier,created_at,unsubscribed_at",
	  "a@example.com,pending,free,,", NULL, 1 },
	{ "auto", "bh.csv", "email,status,tier,created_at,unsubscribed_at",
	  "a@example.com,active,free,,2023-03-24 10:23:10 UTC",
	  "unsubscribed", 0 },
	{ "auto", "bh.csv", "email,status,tier,created_at,unsubscribed_at",
	  "a@example.com,pending,free,,2023-03-24 10:23:10 UTC",
	  "unsubscribed", 0 },
	/* Substack: the inverted flag */
	{ "auto", "s.csv", "email,active_subscription,expiry,email_disabled",
	  "a@example.com,true,,true", "unsubscribed", 0 },
	{ "auto", "s.csv", "email,active_subscription,expiry,email_disabled",
	  "a@example.com,true,,false", NULL, 0 },
	/* Intercom */
	{ "intercom", "i.csv", "email,unsubscribed_from_emails,"
	  "marked_email_as_spam,has_hard_bounced", "a@example.com,true,false,"
	  "false", "unsubscribed", 0 },
	{ "intercom", "i.csv", "email,unsubscribed_from_emails,"
	  "marked_email_as_spam,has_hard_bounced", "a@example.com,false,true,"
	  "false", "complained", 0 },
	{ "intercom", "i.csv", "email,unsubscribed_from_emails,"
	  "marked_email_as_spam,has_hard_bounced", "a@example.com,false,false,"
	  "true", "bounced", 0 },
	{ "intercom", "i.csv", "email,unsubscribed_from_emails,"
	  "marked_email_as_spam,has_hard_bounced", "a@example.com,false,false,"
	  "false", NULL, 0 },
	/* generic status words */
	{ "auto", "g.csv", "email,status", "a@example.com,Unsubscribed",
	  "unsubscribed", 0 },
	{ "auto", "g.csv", "email,status", "a@example.com,hard bounce",
	  "bounced", 0 },
	{ "auto", "g.csv", "email,status", "a@example.com,Cleaned",
	  "cleaned", 0 },
	{ "auto", "g.csv", "email,status", "a@example.com,spam complaint",
	  "complained", 0 },
	{ "auto", "g.csv", "email,status", "a@example.com,blocklisted",
	  "blocklisted", 0 },
	{ "auto", "g.csv", "email,status", "a@example.com,deleted",
	  "deleted", 0 },
	{ "auto", "g.csv", "email,status", "a@example.com,pending",
	  NULL, 1 },
	{ "auto", "g.csv", "email,status", "a@example.com,Active", NULL, 0 },
	{ "auto", "g.csv", "email,status", "a@example.com,whatever", NULL, 0 },
	/* "inactive" means different things: not guessed in generic files */
	{ "auto", "g.csv", "email,status", "a@example.com,inactive", NULL, 0 },
};

Test(mapping, statuses_per_provider)
{
	size_t i;

	for (i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		struct fix f;

		fix_init(&f);
		cr_assert_eq(fix_build(&f, status_cases[i].preset,
				       status_cases[i].path,
				       status_cases[i].header), MB_OK,
			     "case %zu: %s", i, f.e.msg);
		fix_apply(&f, status_cases[i].row);
		cr_assert_null(f.rec.reject, "case %zu: %s", i,
			       buf_str(&f.rec.reject_detail));
		if (status_cases[i].suppress)
			cr_expect(f.rec.suppress &&
				  strcmp(f.rec.suppress,
					 status_cases[i].suppress) == 0,
				  "case %zu (%s): suppress %s, want %s", i,
				  status_cases[i].row,
				  f.rec.suppress ? f.rec.suppress : "NULL",
				  status_cases[i].suppress);
		else
			cr_expect_null(f.rec.suppress, "case %zu (%s): %s", i,
				       status_cases[i].row, f.rec.suppress);
		cr_expect_eq(f.rec.unconfirmed, status_cases[i].unconfirmed,
			     "case %zu (%s)", i, status_cases[i].row);
		/* status columns are never sent as custom fields */
		cr_expect(!strstr(buf_str(&f.rec.custom), "status"),
			  "case %zu: %s", i, buf_str(&f.rec.custom));
		fix_release(&f);
	}
}

/* ---- tags --------------------------------------------------------------- */

static const struct {
	const char *preset, *header, *cell;
	const char *json;
} tag_cases[] = {
	/* Mailchimp, decoded cell forms (raw """Lorem Editors""" etc.) */
	{ "mailchimp", "Email Address,TAGS", "\"Lorem Editors\"",
	  "[\"Lorem Editors\"]" },
	{ "mailchimp", "Email Address,TAGS", "Editors", "[\"Editors\"]" },
	{ "mailchimp", "Email Address,TAGS", "\"Tag A\",\"Tag B\"",
	  "[\"Tag A\",\"Tag B\"]" },
	{ "mailchimp", "Email Address,TAGS", "\"Tag A\", \"Tag B\"",
	  "[\"Tag A\",\"Tag B\"]" },
	{ "mailchimp", "Email Address,TAGS", "\"Smith, Jones\",\"VIP\"",
	  "[\"Smith, Jones\",\"VIP\"]" },
	{ "mailchimp", "Email Address,TAGS", "\" Dolor \",\"Dolor\",\"dolor\"",
	  "[\"Dolor\",\"dolor\"]" },
	{ "mailchimp", "Email Address,TAGS", "\"\",\"A\",", "[\"A\"]" },
	{ "mailchimp", "Email Address,TAGS", "\"5\"\" screen\"",
	  "[\"5\\\" screen\"]" },
	{ "mailchimp", "Email Address,TAGS", "   ", "[]" },
	/* malformed: read as Ghost does (drop quotes, split on commas) */
	{ "mailchimp", "Email Address,TAGS", "\"Tag A,Tag B",
	  "[\"Tag A\",\"Tag B\"]" },
	{ "mailchimp", "Email Address,TAGS", "\"Tag A\",\"Tag B",
	  "[\"Tag A\",\"Tag B\"]" },
	/* lists elsewhere: , or ; */
	{ "kit", "email,tags", "vip, customer;  beta ,,vip",
	  "[\"vip\",\"customer\",\"beta\"]" },
	{ "activecampaign", "Email,Tags", "Newsletter;Webinar 2024",
	  "[\"Newsletter\",\"Webinar 2024\"]" },
	{ "generic", "email,tags", "a|b", "[\"a|b\"]" },
	/* Klaviyo Shopify Tags */
	{ "klaviyo", "Email,Shopify Tags", "[\"vip\",\"swim\"]",
	  "[\"vip\",\"swim\"]" },
	{ "klaviyo", "Email,Shopify Tags", "['vip', 'swim']",
	  "[\"vip\",\"swim\"]" },
	{ "klaviyo", "Email,Shopify Tags", "[vip, swim ]",
	  "[\"vip\",\"swim\"]" },
	{ "klaviyo", "Email,Shopify Tags", "[]", "[]" },
	{ "klaviyo", "Email,Shopify Tags", "[\"a\\\"b\", \"c,d\"]",
	  "[\"a\\\"b\",\"c,d\"]" },
	{ "klaviyo", "Email,Shopify Tags", "vip, swim", "[\"vip\",\"swim\"]" },
	{ "klaviyo", "Email,Shopify Tags", "[\"unterminated",
	  "[\"unterminated\"]" },
};

Test(mapping, tags)
{
	size_t i;

	for (i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
		struct fix f;

		fix_init(&f);
		cr_assert_eq(fix_build(&f, tag_cases[i].preset, "x.csv",
				       tag_cases[i].header), MB_OK,
			     "case %zu: %s", i, f.e.msg);
		fix_apply_cells(&f, CELLS("a@example.com", tag_cases[i].cell));
		cr_assert_null(f.rec.reject);
		cr_expect_str_eq(buf_str(&f.rec.tags), tag_cases[i].json,
				 "case %zu (%s): got %s", i, tag_cases[i].cell,
				 buf_str(&f.rec.tags));
		cr_expect_str_eq(buf_str(&f.rec.custom), "{}", "case %zu", i);
		fix_release(&f);
	}
}

Test(mapping, tag_extras_appended_once)
{
	static const char *const extras[] = {
		"migrated-from-mailchimp", " VIP ", "migrated-from-mailchimp",
	};
	struct mapping_opts o = { "auto", NULL, 0, extras, 3 };
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build_opts(&f, &o, "subscribed_members_export_1.csv",
				    "Email Address,TAGS"), MB_OK);
	cr_assert_eq(f.m.ntags, 3);
	cr_assert_str_eq(f.m.tags[1], "VIP");
	fix_apply_cells(&f, CELLS("a@example.com", "\"VIP\",\"Swim\""));
	cr_assert_str_eq(buf_str(&f.rec.tags),
			 "[\"VIP\",\"Swim\",\"migrated-from-mailchimp\"]");
	fix_apply_cells(&f, CELLS("b@example.com", ""));
	cr_assert_str_eq(buf_str(&f.rec.tags),
			 "[\"migrated-from-mailchimp\",\"VIP\"]");
	fix_release(&f);
}

Test(mapping, bad_tag_extras)
{
	static const char *const empty[] = { "  " };
	static const char *const bad[] = { "caf\xe9" };
	struct mapping_opts o = { "auto", NULL, 0, empty, 1 };
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build_opts(&f, &o, "x.csv", "email"), MB_EUSAGE);
	cr_assert_str_eq(f.e.msg, "--tag: the tag name is empty");
	o.tags = bad;
	cr_assert_eq(fix_build_opts(&f, &o, "x.csv", "email"), MB_EUSAGE);
	cr_assert(strstr(f.e.msg, "is not valid UTF-8"));
	fix_release(&f);
}

/* ---- rejects ------------------------------------------------------------ */

Test(mapping, reject_csv_error)
{
	struct fix f;
	struct csv_row row = { NULL, 0, 7, "unterminated quoted field" };

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv", "email,name"), MB_OK);
	cr_assert_eq(mapping_apply(&f.m, &row, &f.rec, &f.e), MB_OK);
	cr_assert_str_eq(f.rec.reject, "csv_error");
	cr_assert_str_eq(buf_str(&f.rec.reject_detail),
			 "unterminated quoted field");
	fix_release(&f);
}

static const struct {
	const char *header, *row;
	const char *reject, *detail, *email;
} reject_cases[] = {
	{ "Email Address,First Name,Last Name", "a@example.com,A,B,extra",
	  "too_many_fields", "row has 4 fields, header has 3",
	  "a@example.com" },
	{ "Email Address,First Name,Last Name", "a@example.com,A,B, ,,",
	  NULL, NULL, "a@example.com" },
	{ "Email Address,First Name,Last Name", "a@example.com,A",
	  "too_few_fields", "row has 2 fields, header has 3",
	  "a@example.com" },
	{ "Email Address,First Name,,", "a@example.com,A", NULL, NULL,
	  "a@example.com" },
	{ "Email Address,First Name,,", "a@example.com", "too_few_fields",
	  "row has 1 fields, header has 4", "a@example.com" },
	{ "Email Address,First Name", ",A", "missing_email",
	  "column 'Email Address' is empty", "" },
	{ "Email Address,First Name", "   ,A", "missing_email",
	  "column 'Email Address' is empty", "" },
	{ "First Name,Email Address", "A, Not An Email ", "invalid_email",
	  NULL, "Not An Email" },
	{ "Email Address,First Name", "a@@example.com,A", "invalid_email",
	  NULL, "a@@example.com" },
	{ "Email Address,First Name", "a@example,A", "invalid_email", NULL,
	  "a@example" },
	{ "email,expiry,email_disabled",
	  "x7f3k@deletion-request.substack.com,,false", "deleted_account",
	  "column 'email': 'x7f3k@deletion-request.substack.com' stands for "
	  "a deleted Substack account",
	  "x7f3k@deletion-request.substack.com" },
	{ "email,expiry,email_disabled",
	  "X7F3K@Deletion-Request.Substack.com,,false", "deleted_account",
	  NULL, "x7f3k@deletion-request.substack.com" },
};

Test(mapping, rejects_with_details)
{
	size_t i;

	for (i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++) {
		struct fix f;
		const char *want = reject_cases[i].reject;

		fix_init(&f);
		cr_assert_eq(fix_build(&f, "auto", "x.csv",
				       reject_cases[i].header), MB_OK);
		fix_apply(&f, reject_cases[i].row);
		if (want)
			cr_expect(f.rec.reject &&
				  strcmp(f.rec.reject, want) == 0,
				  "case %zu: reject %s, want %s", i,
				  f.rec.reject ? f.rec.reject : "NULL", want);
		else
			cr_expect_null(f.rec.reject, "case %zu: %s (%s)", i,
				       f.rec.reject,
				       buf_str(&f.rec.reject_detail));
		if (reject_cases[i].detail)
			cr_expect_str_eq(buf_str(&f.rec.reject_detail),
					 reject_cases[i].detail, "case %zu", i);
		cr_expect_str_eq(buf_str(&f.rec.email), reject_cases[i].email,
				 "case %zu", i);
		fix_release(&f);
	}
}

Test(mapping, invalid_email_detail_names_the_column)
{
	struct fix f;
	const char *d;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv", "Email Address,Name"),
		     MB_OK);
	fix_apply(&f, "jane.example.com,Jane");
	cr_assert_str_eq(f.rec.reject, "invalid_email");
	d = buf_str(&f.rec.reject_detail);
	cr_assert(strncmp(d, "column 'Email Address': ", 24) == 0, "%s", d);
	cr_assert_gt(strlen(d), 24);
	cr_assert_str_eq(buf_str(&f.rec.custom), "{}");
	cr_assert_str_eq(buf_str(&f.rec.tags), "[]");
	fix_release(&f);
}

Test(mapping, invalid_utf8_names_the_column)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv",
			       "Email Address,First Name,,Notes"), MB_OK);
	fix_apply_cells(&f, CELLS("a@example.com", "Ren\xe9", "", "ok"));
	cr_assert_str_eq(f.rec.reject, "invalid_utf8");
	cr_assert_str_eq(buf_str(&f.rec.reject_detail),
			 "column 'First Name' is not valid UTF-8");
	cr_assert_str_eq(buf_str(&f.rec.email), "a@example.com");
	/* an unnamed column is named by its position */
	fix_apply_cells(&f, CELLS("a@example.com", "Ren", "\xc3", "ok"));
	cr_assert_str_eq(buf_str(&f.rec.reject_detail),
			 "column 3 is not valid UTF-8");
	/* in the email itself: no address to report */
	fix_apply_cells(&f, CELLS("\xff@example.com", "Ren", "", ""));
	cr_assert_str_eq(f.rec.reject, "invalid_utf8");
	cr_assert_str_eq(buf_str(&f.rec.email), "");
	fix_release(&f);
}

Test(mapping, nul_byte_is_invalid_utf8)
{
	struct fix f;
	static const char cell_with_nul[] = { 'a', '\0', 'b', '\0' };
	struct csv_field fields[2] = {
		{ "a@example.com", 13 }, { cell_with_nul, 3 },
	};
	struct csv_row row = { fields, 2, 3, NULL };

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv", "email,note"), MB_OK);
	cr_assert_eq(mapping_apply(&f.m, &row, &f.rec, &f.e), MB_OK);
	cr_assert_str_eq(f.rec.reject, "invalid_utf8");
	cr_assert_str_eq(buf_str(&f.rec.reject_detail),
			 "column 'note' is not valid UTF-8");
	fix_release(&f);
}

Test(mapping, values_trimmed)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "x.csv",
			       "Email Address,First Name,Company"), MB_OK);
	fix_apply_cells(&f, CELLS(" \ta@example.com\r\n", " Dolor ",
				  "\xc2\xa0" "Acme\xc2\xa0"));
	cr_assert_null(f.rec.reject);
	cr_assert_str_eq(buf_str(&f.rec.first_name), "Dolor");
	cr_assert_str_eq(buf_str(&f.rec.custom), "{\"company\":\"Acme\"}");
	fix_release(&f);
}

/* ---- overrides ---------------------------------------------------------- */

Test(mapping, parse_overrides)
{
	static const struct {
		const char *arg;
		const char *column;
		enum field_role role;
		const char *key;
	} good[] = {
		{ "Mail Address=email", "Mail Address", FIELD_EMAIL, NULL },
		{ " Mail Address = EMAIL ", "Mail Address", FIELD_EMAIL, NULL },
		{ "uid=external_id", "uid", FIELD_EXTERNAL_ID, NULL },
		{ "Prénom=first_name", "Prénom", FIELD_FIRST_NAME, NULL },
		{ "Nom=last_name", "Nom", FIELD_LAST_NAME, NULL },
		{ "Who=display_name", "Who", FIELD_DISPLAY_NAME, NULL },
		{ "Labels=tags", "Labels", FIELD_TAGS, NULL },
		{ "Subscribed?=status", "Subscribed?", FIELD_STATUS, NULL },
		{ "Phone=ignore", "Phone", FIELD_IGNORE, NULL },
		{ "Phone=custom:mobile_phone", "Phone", FIELD_CUSTOM,
		  "mobile_phone" },
		{ "a=b=custom:Plan_Tier2", "a=b", FIELD_CUSTOM, "Plan_Tier2" },
	};
	static const struct {
		const char *arg, *msg;
	} bad[] = {
		{ "email", "--map 'email': expected COLUMN=FIELD" },
		{ "=email", "--map '=email': the column name is empty" },
		{ "  =email", "--map '  =email': the column name is empty" },
		{ "Mail=mail", "--map 'Mail=mail': unknown field 'mail' (valid: "
		  "email, external_id, first_name, last_name, display_name, "
		  "tags, status, ignore, custom:NAME)" },
		{ "Mail=", "--map 'Mail=': unknown field '' (valid: email, "
		  "external_id, first_name, last_name, display_name, tags, "
		  "status, ignore, custom:NAME)" },
		{ "Phone=custom", "--map 'Phone=custom': name the custom field, "
		  "as in custom:NAME" },
		{ "Phone=custom:", "--map 'Phone=custom:': name the custom "
		  "field, as in custom:NAME" },
		{ "Phone=custom:my phone", "--map 'Phone=custom:my phone': a "
		  "custom field name is 1 to 128 letters, digits or '_'" },
		{ "Phone=custom:a.b", "--map 'Phone=custom:a.b': a custom "
		  "field name is 1 to 128 letters, digits or '_'" },
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct mapping_override ov = { NULL, FIELD_IGNORE, NULL };
		struct err e = ERR_INIT;

		cr_assert_eq(mapping_parse_override(good[i].arg, &ov, &e),
			     MB_OK, "%s: %s", good[i].arg, e.msg);
		cr_expect_str_eq(ov.column, good[i].column);
		cr_expect_eq(ov.role, good[i].role, "%s", good[i].arg);
		if (good[i].key)
			cr_expect_str_eq(ov.custom_key, good[i].key);
		else
			cr_expect_null(ov.custom_key);
		mapping_override_release(&ov);
		cr_assert_null(ov.column);
		cr_assert_null(ov.custom_key);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mapping_override ov = { NULL, FIELD_IGNORE, NULL };
		struct err e = ERR_INIT;

		cr_assert_eq(mapping_parse_override(bad[i].arg, &ov, &e),
			     MB_EUSAGE, "%s", bad[i].arg);
		cr_expect_str_eq(e.msg, bad[i].msg);
		/* out-parameter untouched on failure */
		cr_assert_null(ov.column);
		cr_assert_null(ov.custom_key);
	}
}

static enum mb_rc build_with(struct fix *f, const char *header,
			     const char *const *args, size_t nargs)
{
	struct mapping_override ov[8];
	struct mapping_opts o = { "auto", ov, nargs, NULL, 0 };
	struct err e = ERR_INIT;
	enum mb_rc rc;
	size_t i;

	for (i = 0; i < nargs; i++)
		cr_assert_eq(mapping_parse_override(args[i], &ov[i], &e), MB_OK,
			     "%s", e.msg);
	rc = fix_build_opts(f, &o, "contacts.csv", header);
	for (i = 0; i < nargs; i++)
		mapping_override_release(&ov[i]);
	return rc;
}

Test(mapping, overrides_win)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(build_with(&f, "Name,Mail Address,Phone",
				CELLS("mail address=email")), MB_OK, "%s",
		     f.e.msg);
	cr_assert_eq(f.m.email_column, 1);
	fix_apply(&f, "Ann,ann@example.com,555");
	cr_assert_str_eq(buf_str(&f.rec.email), "ann@example.com");
	cr_assert_str_eq(buf_str(&f.rec.display_name), "Ann");
	cr_assert_str_eq(buf_str(&f.rec.custom), "{\"phone\":555}");
	fix_release(&f);

	/* the preset's email column steps aside */
	fix_init(&f);
	cr_assert_eq(build_with(&f, "Email,Work Email,Phone,mobile",
				CELLS("Work Email=email", "Phone=custom:mobile",
				      "Email=custom:personal_email")), MB_OK,
		     "%s", f.e.msg);
	cr_assert_eq(f.m.email_column, 1);
	cr_assert_str_eq(key_of(&f, "Email"), "personal_email");
	cr_assert_str_eq(key_of(&f, "Phone"), "mobile");
	cr_assert_str_eq(key_of(&f, "mobile"), "mobile_2");
	fix_apply(&f, "me@example.org,work@example.com,1,2");
	cr_assert_str_eq(buf_str(&f.rec.email), "work@example.com");
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"mobile\":1,\"mobile_2\":2,"
			 "\"personal_email\":\"me@example.org\"}");
	fix_release(&f);

	/* ignore, status, tags */
	fix_init(&f);
	cr_assert_eq(build_with(&f, "email,Phone,Subscribed?,Labels",
				CELLS("Phone=ignore", "Subscribed?=status",
				      "Labels=tags")), MB_OK, "%s", f.e.msg);
	fix_apply(&f, "a@example.com,555,Unsubscribed,x;y");
	cr_assert_str_eq(buf_str(&f.rec.custom), "{}");
	cr_assert_str_eq(f.rec.suppress, "unsubscribed");
	cr_assert_str_eq(buf_str(&f.rec.tags), "[\"x\",\"y\"]");
	fix_release(&f);

	/* a Mailchimp TAGS column mapped to tags keeps its reading */
	fix_init(&f);
	cr_assert_eq(build_with(&f, "Email Address,TAGS,MEMBER_RATING,LEID",
				CELLS("TAGS=tags")), MB_OK, "%s", f.e.msg);
	cr_assert_eq(f.m.columns[1].tags_format, TAGS_MAILCHIMP);
	fix_release(&f);

	/* Klaviyo ID as the external id, if the user says so */
	fix_init(&f);
	cr_assert_eq(build_with(&f, "Email,Klaviyo ID",
				CELLS("Klaviyo ID=external_id")), MB_OK);
	cr_assert_str_eq(role_of(&f, "Klaviyo ID"), "external_id");
	fix_release(&f);
}

Test(mapping, override_errors)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(build_with(&f, "Name,Mail Address,Phone",
				CELLS("Mail Adress=email")), MB_EUSAGE);
	cr_assert_str_eq(f.e.msg, "--map 'Mail Adress=...': 'contacts.csv' has "
			 "no column 'Mail Adress' (headers: 'Name', "
			 "'Mail Address', 'Phone')");
	cr_assert_eq(build_with(&f, "Name,Mail Address,Phone",
				CELLS("Name=email", "Mail Address=email")),
		     MB_EUSAGE);
	cr_assert_str_eq(f.e.msg, "--map: two columns are mapped to email, "
			 "'Mail Address' is one");
	cr_assert_eq(build_with(&f, "Name,Mail Address,Phone",
				CELLS("Phone=ignore", "phone=custom:p")),
		     MB_EUSAGE);
	cr_assert_str_eq(f.e.msg, "--map: column 'Phone' is mapped twice");
	cr_assert_eq(build_with(&f, "email,Phone",
				CELLS("email=ignore")), MB_EDATA);
	fix_release(&f);
}

/* ---- whole-file errors -------------------------------------------------- */

Test(mapping, no_email_column_message)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "contacts.csv",
			       "Name,Mail Address,Phone"), MB_EDATA);
	cr_assert_eq(f.e.rc, MB_EDATA);
	cr_assert_str_eq(f.e.msg, "'contacts.csv' has no email column "
			 "(headers: 'Name', 'Mail Address', 'Phone'); tell "
			 "meisa-bulk which column holds the address with "
			 "--map 'Mail Address=email'");
	/* the most email-looking header is suggested */
	cr_assert_eq(fix_build(&f, "auto", "c.csv",
			       "Name,Mail Box,Work EMail Addr,Phone"), MB_EDATA);
	cr_assert(strstr(f.e.msg, "--map 'Work EMail Addr=email'"), "%s",
		  f.e.msg);
	/* or the first */
	cr_assert_eq(fix_build(&f, "auto", "c.csv", "Name,Phone,"), MB_EDATA);
	cr_assert_str_eq(f.e.msg, "'c.csv' has no email column (headers: "
			 "'Name', 'Phone'); tell meisa-bulk which column "
			 "holds the address with --map 'Name=email'");
	/* a header with a quote is quoted the other way */
	cr_assert_eq(fix_build(&f, "auto", "c.csv", "Contact's mail,Phone"),
		     MB_EDATA);
	cr_assert(strstr(f.e.msg, "--map \"Contact's mail=email\""), "%s",
		  f.e.msg);
	/* a forced preset without its email column falls back to synonyms */
	cr_assert_eq(fix_build(&f, "mailchimp", "c.csv", "Phone,Email"), MB_OK);
	cr_assert_eq(f.m.email_column, 1);
	fix_release(&f);
}

Test(mapping, wide_header_message_is_cut)
{
	struct fix f;
	char header[4000];
	size_t i;

	header[0] = '\0';
	for (i = 0; i < 60; i++)
		sprintf(header + strlen(header), "%sSome Long Column %zu",
			i ? "," : "", i);
	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "w.csv", header), MB_EDATA);
	cr_assert(strstr(f.e.msg, ", ...); tell meisa-bulk"), "%s", f.e.msg);
	cr_assert(strstr(f.e.msg, "--map 'Some Long Column 0=email'"));
	fix_release(&f);
}

Test(mapping, unknown_preset)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "mailchimpp", "x.csv", "email"), MB_EUSAGE);
	cr_assert_str_eq(f.e.msg, "unknown preset 'mailchimpp' (valid: auto, "
			 "mailchimp, sendgrid, klaviyo, hubspot, kit, "
			 "activecampaign, brevo, mailerlite, customerio, "
			 "beehiiv, substack, intercom, ghost, listmonk, "
			 "keila, mautic, buttondown, sendy, constantcontact, "
			 "aweber, getresponse, campaignmonitor, emailoctopus, "
			 "moosend, omnisend, drip, loops, generic)");
	cr_assert_eq(f.m.ncolumns, 0);
	cr_assert_null(f.m.columns);
	fix_release(&f);
}

Test(mapping, header_row_errors)
{
	struct mapping m = MAPPING_INIT;
	struct mapping_opts o = { NULL, NULL, 0, NULL, 0 };
	struct csv_row bad = { NULL, 0, 1, "unterminated quoted field" };
	struct csv_row empty = { NULL, 0, 1, NULL };
	struct err e = ERR_INIT;

	cr_assert_eq(mapping_build(&m, &o, "x.csv", &bad, &e), MB_EDATA);
	cr_assert_str_eq(e.msg, "'x.csv': cannot read the header row: "
			 "unterminated quoted field");
	cr_assert_eq(mapping_build(&m, &o, NULL, &empty, &e), MB_EDATA);
	cr_assert_str_eq(e.msg, "'input': the header row is empty");
	cr_assert_null(m.columns);
}

/* ---- lifecycle ---------------------------------------------------------- */

Test(mapping, release_leaves_structs_empty)
{
	struct fix f;
	static const char *const extras[] = { "x" };
	struct mapping_opts o = { "auto", NULL, 0, extras, 1 };

	fix_init(&f);
	cr_assert_eq(fix_build_opts(&f, &o, "x.csv", MAILCHIMP_HEADER), MB_OK);
	fix_apply(&f, "a@example.com,A,B,C,D,E,2,2018-02-12 10:54:27,,,,,,,,"
		  ",,,,1,e,n,\"t\"");
	cr_assert_null(f.rec.reject, "%s", buf_str(&f.rec.reject_detail));
	mapping_release(&f.m);
	cr_assert_eq(f.m.ncolumns, 0);
	cr_assert_null(f.m.columns);
	cr_assert_null(f.m.order);
	cr_assert_null(f.m.tags);
	cr_assert_eq(f.m.ntags, 0);
	cr_assert_eq(f.m.norder, 0);
	cr_assert_null(f.m.preset);
	mapping_release(&f.m);          /* twice is fine */
	record_release(&f.rec);
	cr_assert_null(f.rec.email.data);
	cr_assert_eq(f.rec.email.len, 0);
	cr_assert_null(f.rec.custom.data);
	cr_assert_null(f.rec.tags.data);
	cr_assert_null(f.rec.reject_detail.data);
	cr_assert_null(f.rec.scratch.data);
	cr_assert_null(f.rec.reject);
	cr_assert_null(f.rec.suppress);
	record_release(&f.rec);
}

Test(mapping, presets_list)
{
	const char *const *p = mapping_presets();

	cr_assert_str_eq(p[0], "auto");
	cr_assert_str_eq(p[28], "generic");
	cr_assert_null(p[29]);
}

/* Issue 15: consent evidence under fixed keys, with its source. */
Test(mapping, consent_evidence_fixed_keys_and_source)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "seg.csv", "Emailadresse,Vorname,"
			       "Nachname,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,"
			       "CONFIRM_TIME,CONFIRM_IP,LEID,EUID,"
			       "Consent Source"), MB_OK, "%s", f.e.msg);
	cr_assert_str_eq(f.m.preset, "mailchimp");
	cr_assert_str_eq(role_of(&f, "Emailadresse"), "email");
	cr_assert_str_eq(role_of(&f, "Vorname"), "first_name");
	cr_assert_str_eq(role_of(&f, "Nachname"), "last_name");
	cr_assert_str_eq(key_of(&f, "OPTIN_TIME"), "consent_optin_at");
	/* a column of that name steps aside for the preset's name */
	cr_assert_str_eq(key_of(&f, "Consent Source"), "consent_source_2");
	/* Mailchimp does not say its times are UTC: no zone added */
	fix_apply(&f, "xxx@eee.ch,Peter,Example,4,2018-02-12 17:59:31,"
		  "46.140.110.82,2018-02-12 18:06:58,46.140.110.83,1,ab,x");
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"consent_confirmed_at\":\"2018-02-12T18:06:58\","
			 "\"consent_confirmed_ip\":\"46.140.110.83\","
			 "\"consent_optin_at\":\"2018-02-12T17:59:31\","
			 "\"consent_optin_ip\":\"46.140.110.82\","
			 "\"consent_source\":\"mailchimp\","
			 "\"consent_source_2\":\"x\",\"euid\":\"ab\","
			 "\"leid\":1,\"member_rating\":4}");
	/* no evidence in the row: no consent_source either */
	fix_apply(&f, "a@example.com,,,2,,,,,7,cd,");
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"euid\":\"cd\",\"leid\":7,\"member_rating\":2}");
	/* a zone the export gives is kept */
	fix_apply(&f, "b@example.com,,,2,2018-02-12 17:59:31 UTC,,,,7,cd,");
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"consent_optin_at\":\"2018-02-12T17:59:31Z\","
			 "\"consent_source\":\"mailchimp\",\"euid\":\"cd\","
			 "\"leid\":7,\"member_rating\":2}");
	fix_release(&f);
}

/* Issue 15: listmonk's attributes JSON becomes custom fields. */
Test(mapping, listmonk_attributes_become_custom_fields)
{
	struct fix f;
	const char *cells[] = {
		"8c5d2e1a", "ana@example.com", "Ana Lima",
		"{\"age\": 29, \"city\": \"S\\u00e3o Paulo\", \"clientId\": "
		"\"DAXX79\", \"vip\": true, \"gone\": null, \"uuid\": \"x\", "
		"\"prefs\": {\"lang\": \"pt\"}, \"Age\": 30}",
		"blocklisted",
	};

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "subs.csv",
			       "uuid,email,name,attributes,status"), MB_OK);
	cr_assert_str_eq(f.m.preset, "listmonk");
	cr_assert_str_eq(role_of(&f, "attributes"), "attributes");
	fix_apply_cells(&f, cells, 5);
	/* a member named like a column (uuid), or twice (Age), is dropped */
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"age\":29,\"city\":\"São Paulo\","
			 "\"clientid\":\"DAXX79\","
			 "\"listmonk_uuid\":\"8c5d2e1a\","
			 "\"prefs\":\"{\\\"lang\\\": \\\"pt\\\"}\","
			 "\"uuid\":\"x\",\"vip\":true}");
	cr_assert_str_eq(buf_str(&f.rec.display_name), "Ana Lima");
	cr_assert_str_eq(f.rec.suppress, "blocklisted");
	/* not an object: one string under the column's key, no reject */
	cells[3] = "{\"age\": 29";
	cells[4] = "enabled";
	fix_apply_cells(&f, cells, 5);
	cr_assert_null(f.rec.reject);
	cr_assert_null(f.rec.suppress);
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"attributes\":\"{\\\"age\\\": 29\","
			 "\"listmonk_uuid\":\"8c5d2e1a\"}");
	cells[3] = "{}";
	fix_apply_cells(&f, cells, 5);
	cr_assert_str_eq(buf_str(&f.rec.custom),
			 "{\"listmonk_uuid\":\"8c5d2e1a\"}");
	fix_release(&f);
}

/* Issue 15: Ghost's subscribed_to_emails=false is do-not-email. */
Test(mapping, ghost_unsubscribed_member_is_suppressed)
{
	struct fix f;

	fix_init(&f);
	cr_assert_eq(fix_build(&f, "auto", "members.csv",
			       "email,name,note,subscribed_to_emails,labels"),
		     MB_OK);
	cr_assert_str_eq(f.m.preset, "ghost");
	fix_apply_cells(&f, CELLS("a@example.com", "Ann", "", "false",
				  "vip,promotion"));
	cr_assert_str_eq(f.rec.suppress, "unsubscribed");
	cr_assert_str_eq(buf_str(&f.rec.tags), "[\"vip\",\"promotion\"]");
	cr_assert_str_eq(buf_str(&f.rec.display_name), "Ann");
	fix_apply(&f, "b@example.com,Bo,,true,");
	cr_assert_null(f.rec.suppress);
	/* Ghost's importer: only "false" unsubscribes; null stays mailable */
	fix_apply(&f, "c@example.com,Cy,,null,");
	cr_assert_null(f.rec.suppress);
	fix_release(&f);
}
