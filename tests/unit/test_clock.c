/*
 * clock: clock_iso, the one writer of timestamps for the staging file and
 * the sandbox, and the wall-to-monotonic bridge.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"

Test(clock, iso_is_utc_with_milliseconds)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ 999, "1970-01-01T00:00:00.999Z" },
		{ 1000, "1970-01-01T00:00:01.000Z" },
		{ INT64_C(1700000000123), "2023-11-14T22:13:20.123Z" },
		{ INT64_C(951782400000), "2000-02-29T00:00:00.000Z" },
		{ INT64_C(253402300799999), "9999-12-31T23:59:59.999Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ -1000, "1969-12-31T23:59:59.000Z" },
		{ -1001, "1969-12-31T23:59:58.999Z" },
	};
	char out[CLOCK_ISO_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		clock_iso(cases[i].ms, out);
		cr_expect_str_eq(out, cases[i].want, "%lld",
				 (long long)cases[i].ms);
	}
}

/* The extremes fit: years of nine digits and a sign. */
Test(clock, iso_of_any_time_fits)
{
	static const int64_t extremes[] = { INT64_MAX, INT64_MIN,
					    INT64_MIN + 1 };
	char out[CLOCK_ISO_MAX];
	size_t i, n;

	for (i = 0; i < sizeof(extremes) / sizeof(extremes[0]); i++) {
		clock_iso(extremes[i], out);
		n = strlen(out);
		cr_assert_lt(n, sizeof(out));
		cr_assert_eq(out[n - 1], 'Z', "%s", out);
	}
}

Test(clock, iso_of_now_has_the_fixed_width)
{
	char out[CLOCK_ISO_MAX];

	clock_iso(clock_wall_ms(), out);
	cr_assert_eq(strlen(out), 24);
	cr_assert_eq(out[10], 'T');
	cr_assert_eq(out[23], 'Z');
}

Test(clock, wall_to_mono_clamps_the_future)
{
	cr_assert_eq(clock_wall_to_mono(9000, 10000, 500), -500);
	cr_assert_eq(clock_wall_to_mono(10000, 10000, 500), 500);
	cr_assert_eq(clock_wall_to_mono(12000, 10000, 500), 500);
}
