/*
 * typing: custom-field cells to JSON values (numbers, booleans, ISO 8601
 * dates, strings).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "typing.h"

#define DMY TYPING_DMY_DATES

static const struct {
	const char *in;
	unsigned flags;
	const char *json;
} cases[] = {
	/* integers: canonical, within int64 */
	{ "0", 0, "0" },
	{ "7", 0, "7" },
	{ "-12", 0, "-12" },
	{ "2", 0, "2" },
	{ "123456789", 0, "123456789" },
	{ "9223372036854775807", 0, "9223372036854775807" },
	{ "-9223372036854775808", 0, "-9223372036854775808" },
	{ "9223372036854775808", 0, "\"9223372036854775808\"" },
	{ "-9223372036854775809", 0, "\"-9223372036854775809\"" },
	{ "12345678901234567890", 0, "\"12345678901234567890\"" },
	{ "02134", 0, "\"02134\"" },
	{ "00", 0, "\"00\"" },
	{ "-0", 0, "\"-0\"" },
	{ "+5", 0, "\"+5\"" },
	{ "-", 0, "\"-\"" },
	{ "1 000", 0, "\"1 000\"" },
	{ "1,5", 0, "\"1,5\"" },
	/* decimals: canonical, written as they are */
	{ "-12.5", 0, "-12.5" },
	{ "0.25", 0, "0.25" },
	{ "1.50", 0, "1.50" },
	{ "-0.001", 0, "-0.001" },
	{ "40.7128", 0, "40.7128" },
	{ "-74.0060", 0, "-74.0060" },
	{ "123456789.012345", 0, "123456789.012345" },
	{ "0.000000000000001", 0, "0.000000000000001" },
	{ "1234567890.1234567", 0, "\"1234567890.1234567\"" },
	{ ".5", 0, "\".5\"" },
	{ "1.", 0, "\"1.\"" },
	{ "01.5", 0, "\"01.5\"" },
	{ "1e5", 0, "\"1e5\"" },
	{ "1.5e3", 0, "\"1.5e3\"" },
	{ "1.2.3", 0, "\"1.2.3\"" },
	{ "-.5", 0, "\"-.5\"" },
	{ "NaN", 0, "\"NaN\"" },
	{ "Infinity", 0, "\"Infinity\"" },
	/* booleans */
	{ "true", 0, "true" },
	{ "TRUE", 0, "true" },
	{ "False", 0, "false" },
	{ "fAlSe", 0, "false" },
	{ "yes", 0, "\"yes\"" },
	{ "truth", 0, "\"truth\"" },
	{ "t", 0, "\"t\"" },
	/* strings */
	{ "+33 6 12 34 56 78", 0, "\"+33 6 12 34 56 78\"" },
	{ "Acme \"Widgets\"", 0, "\"Acme \\\"Widgets\\\"\"" },
	{ "Zoë", 0, "\"Zoë\"" },
	{ "c2cb0681af", 0, "\"c2cb0681af\"" },
	/* dates: Mailchimp, MailerLite, beehiiv, dumps */
	{ "2018-02-12 10:54:27", 0, "\"2018-02-12T10:54:27Z\"" },
	{ "2023-03-24 10:23:10 UTC", 0, "\"2023-03-24T10:23:10Z\"" },
	{ "2023-03-24 10:23:10 GMT", 0, "\"2023-03-24T10:23:10Z\"" },
	{ "2023-03-24 10:23", 0, "\"2023-03-24T10:23:00Z\"" },
	{ "2023-03-24 10:23:10.250", 0, "\"2023-03-24T10:23:10.250Z\"" },
	{ "2024-01-31 23:59:59+00", 0, "\"2024-01-31T23:59:59+00:00\"" },
	{ "2024-01-31 23:59:59 +0200", 0, "\"2024-01-31T23:59:59+02:00\"" },
	{ "2024-01-31 23:59:59-05:30", 0, "\"2024-01-31T23:59:59-05:30\"" },
	{ "2024-02-29 00:00:00", 0, "\"2024-02-29T00:00:00Z\"" },
	{ "2000-02-29 12:00:00", 0, "\"2000-02-29T12:00:00Z\"" },
	/* already ISO 8601: kept */
	{ "2018-08-27T15:06:27.713Z", 0, "\"2018-08-27T15:06:27.713Z\"" },
	{ "2024-05-01", 0, "\"2024-05-01\"" },
	{ "2024-05-01", DMY, "\"2024-05-01\"" },
	/* impossible calendars or clocks: left as they are */
	{ "2023-02-29 10:00:00", 0, "\"2023-02-29 10:00:00\"" },
	{ "1900-02-29 10:00:00", 0, "\"1900-02-29 10:00:00\"" },
	{ "2024-04-31 10:00:00", 0, "\"2024-04-31 10:00:00\"" },
	{ "2024-13-01 10:00:00", 0, "\"2024-13-01 10:00:00\"" },
	{ "2024-00-10 10:00:00", 0, "\"2024-00-10 10:00:00\"" },
	{ "2024-01-00 10:00:00", 0, "\"2024-01-00 10:00:00\"" },
	{ "2024-01-10 24:00:00", 0, "\"2024-01-10 24:00:00\"" },
	{ "2024-01-10 10:60:00", 0, "\"2024-01-10 10:60:00\"" },
	{ "2024-01-10 10:00:61", 0, "\"2024-01-10 10:00:61\"" },
	{ "2024-01-10 10:00:00 PST", 0, "\"2024-01-10 10:00:00 PST\"" },
	{ "2024-01-10 10:00:00+25", 0, "\"2024-01-10 10:00:00+25\"" },
	{ "2024-1-10 10:00:00", 0, "\"2024-1-10 10:00:00\"" },
	{ "2024-01-10  10:00:00", 0, "\"2024-01-10  10:00:00\"" },
	/* Brevo DD-MM-YYYY, only with the flag */
	{ "18-06-2024", DMY, "\"2024-06-18\"" },
	{ "18-06-2024", 0, "\"18-06-2024\"" },
	{ "28-01-2026 14:05", DMY, "\"2026-01-28T14:05:00Z\"" },
	{ "28-01-2026 14:05:09", DMY, "\"2026-01-28T14:05:09Z\"" },
	{ "31-02-2024", DMY, "\"31-02-2024\"" },
	{ "06-18-2024", DMY, "\"06-18-2024\"" },
	{ "2024-06-18 09:00:00", DMY, "\"2024-06-18T09:00:00Z\"" },
	{ "7", DMY, "7" },
};

Test(typing, table)
{
	size_t i;

	cr_assert_geq(sizeof(cases) / sizeof(cases[0]), 40);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out = BUF_INIT;

		cr_assert_eq(typing_add_value(&out, cases[i].in,
					      strlen(cases[i].in),
					      cases[i].flags), MB_OK);
		cr_expect_str_eq(buf_str(&out), cases[i].json,
				 "case %zu '%s': got %s, want %s", i,
				 cases[i].in, buf_str(&out), cases[i].json);
		buf_release(&out);
	}
}

Test(typing, appends_to_existing_content)
{
	struct buf out = BUF_INIT;

	buf_addstr(&out, "{\"a\":");
	typing_add_value(&out, "12", 2, 0);
	buf_addstr(&out, ",\"b\":");
	typing_add_value(&out, "2018-02-12 10:54:27", 19, 0);
	cr_assert_str_eq(buf_str(&out),
			 "{\"a\":12,\"b\":\"2018-02-12T10:54:27Z\"");
	buf_release(&out);
}

Test(typing, value_is_not_read_past_its_length)
{
	struct buf out = BUF_INIT;

	/* "12" is the cell; what follows in memory belongs to the next one. */
	typing_add_value(&out, "12abc", 2, 0);
	cr_assert_str_eq(buf_str(&out), "12");
	buf_reset(&out);
	typing_add_value(&out, "truex", 4, 0);
	cr_assert_str_eq(buf_str(&out), "true");
	buf_reset(&out);
	typing_add_value(&out, "2018-02-12 10:54:27 UTC", 19, 0);
	cr_assert_str_eq(buf_str(&out), "\"2018-02-12T10:54:27Z\"");
	buf_release(&out);
}

Test(typing, full_buffer_is_an_error_and_leaves_it_unchanged)
{
	struct buf out;

	buf_init(&out, 8);
	/* the string is longer than the room left: nothing half-written */
	buf_addstr(&out, "{\"a\":");
	cr_assert_eq(typing_add_value(&out, "hello world", 11, 0), MB_ETOOBIG);
	cr_assert_eq(typing_add_value(&out, "2018-02-12 10:54:27", 19, 0),
		     MB_ETOOBIG);
	cr_assert_str_eq(buf_str(&out), "{\"a\":");
	cr_assert_eq(out.len, 5);
	buf_release(&out);
}

Test(typing, predicates)
{
	int v = -1;

	cr_assert(typing_is_integer("0", 1));
	cr_assert(!typing_is_integer("", 0));
	cr_assert(!typing_is_integer("-", 1));
	cr_assert(typing_is_decimal("0.0", 3));
	cr_assert(!typing_is_decimal("0", 1));
	cr_assert(!typing_is_decimal("-", 1));
	cr_assert(typing_is_bool("TRUE", 4, &v));
	cr_assert_eq(v, 1);
	cr_assert(typing_is_bool("false", 5, &v));
	cr_assert_eq(v, 0);
}

Test(typing, date_lengths)
{
	char iso[TYPING_ISO_MAX];
	size_t n;

	n = typing_date("2018-02-12 10:54:27", 19, 0, iso);
	cr_assert_eq(n, 20);
	cr_assert_str_eq(iso, "2018-02-12T10:54:27Z");
	n = typing_date("2018-02-12 10:54:27.123456789 +05:45", 36, 0, iso);
	cr_assert_str_eq(iso, "2018-02-12T10:54:27.123456789+05:45");
	cr_assert_eq(n, strlen(iso));
	/* more than nine fraction digits is not a format we know */
	cr_assert_eq(typing_date("2018-02-12 10:54:27.1234567890", 30, 0, iso),
		     0);
	cr_assert_eq(typing_date("2018-02-12", 10, 0, iso), 0);
	cr_assert_eq(typing_date("2018-02-1", 9, 0, iso), 0);
}

/* Issue 15: consent times keep the zone the export gives, or none. */
Test(typing, zone_as_given)
{
	char iso[TYPING_ISO_MAX];

	cr_assert_eq(typing_date("2018-02-12 10:54:27", 19,
				 TYPING_ZONE_AS_GIVEN, iso), 19);
	cr_assert_str_eq(iso, "2018-02-12T10:54:27");
	cr_assert_neq(typing_date("2018-02-12 10:54:27 UTC", 23,
				  TYPING_ZONE_AS_GIVEN, iso), 0);
	cr_assert_str_eq(iso, "2018-02-12T10:54:27Z");
	cr_assert_neq(typing_date("2018-02-12 10:54:27+02", 22,
				  TYPING_ZONE_AS_GIVEN, iso), 0);
	cr_assert_str_eq(iso, "2018-02-12T10:54:27+02:00");
	cr_assert_neq(typing_date("12-02-2018 10:54", 16,
				  TYPING_ZONE_AS_GIVEN | TYPING_DMY_DATES,
				  iso), 0);
	cr_assert_str_eq(iso, "2018-02-12T10:54:00");
	/* without the flag, UTC is assumed as before */
	cr_assert_neq(typing_date("2018-02-12 10:54:27", 19, 0, iso), 0);
	cr_assert_str_eq(iso, "2018-02-12T10:54:27Z");
}
