/*
 * backoff: bounds, growth, cap, overflow and reproducibility from a seed.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "backoff.h"

Test(backoff, ceiling_grows_then_caps)
{
	static const struct {
		unsigned attempt;
		int64_t base, cap, want;
	} cases[] = {
		{ 0, 1000, 60000, 1000 },
		{ 1, 1000, 60000, 2000 },
		{ 2, 1000, 60000, 4000 },
		{ 5, 1000, 60000, 32000 },
		{ 6, 1000, 60000, 60000 },
		{ 7, 1000, 60000, 60000 },
		{ 63, 1000, 60000, 60000 },
		{ 64, 1000, 60000, 60000 },
		{ 1000, 1000, 60000, 60000 },
		{ UINT32_MAX, 1, INT64_MAX, INT64_MAX },
		{ 62, 1, INT64_MAX, INT64_C(1) << 62 },
		{ 0, 5000, 1000, 1000 },     /* cap below base */
		{ 3, 0, 60000, 0 },
		{ 3, -5, 60000, 0 },
		{ 3, 1000, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(backoff_ceiling_ms(cases[i].attempt,
						cases[i].base, cases[i].cap),
			     cases[i].want, "case %zu: got %lld, want %lld", i,
			     (long long)backoff_ceiling_ms(cases[i].attempt,
				cases[i].base, cases[i].cap),
			     (long long)cases[i].want);
}

Test(backoff, delay_stays_within_bounds)
{
	uint64_t rng = BACKOFF_RNG_INIT;
	unsigned attempt;
	int64_t d, ceiling;
	int i;

	for (attempt = 0; attempt < 80; attempt++) {
		ceiling = backoff_ceiling_ms(attempt, 250, 30000);
		for (i = 0; i < 500; i++) {
			d = backoff_delay_ms(attempt, 250, 30000, &rng);
			cr_assert(d >= 0 && d <= ceiling,
				  "attempt %u: %lld outside [0, %lld]", attempt,
				  (long long)d, (long long)ceiling);
		}
	}
	for (i = 0; i < 100; i++)
		cr_assert_eq(backoff_delay_ms(3, 0, 1000, &rng), 0);
	for (i = 0; i < 1000; i++) {
		d = backoff_delay_ms(UINT32_MAX, 1, INT64_MAX, &rng);
		cr_assert(d >= 0);
	}
}

/* Full jitter: the whole interval is used, and it grows with attempts. */
Test(backoff, delay_spreads_and_grows)
{
	uint64_t rng;
	double mean[6] = { 0 };
	int64_t d, lo, hi;
	unsigned attempt;
	int i, n = 20000;

	backoff_seed(&rng, 42);
	for (attempt = 0; attempt < 6; attempt++) {
		lo = INT64_MAX;
		hi = -1;
		for (i = 0; i < n; i++) {
			d = backoff_delay_ms(attempt, 100, 100000, &rng);
			mean[attempt] += (double)d / n;
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		/* Uniform on [0, 100 << attempt]: mean at half the ceiling. */
		cr_expect(mean[attempt] > 0.45 * (100 << attempt) &&
			  mean[attempt] < 0.55 * (100 << attempt),
			  "attempt %u: mean %.1f", attempt, mean[attempt]);
		cr_expect(lo < (5 << attempt), "attempt %u: low %lld",
			  attempt, (long long)lo);
		cr_expect(hi > (95 << attempt), "attempt %u: high %lld",
			  attempt, (long long)hi);
		if (attempt)
			cr_expect(mean[attempt] > 1.7 * mean[attempt - 1]);
	}
}

Test(backoff, same_seed_same_sequence)
{
	uint64_t a, b, c;
	int i, differ = 0;

	backoff_seed(&a, 7);
	backoff_seed(&b, 7);
	backoff_seed(&c, 8);
	for (i = 0; i < 1000; i++) {
		unsigned n = (unsigned)i % 10;
		int64_t da = backoff_delay_ms(n, 1000, 60000, &a);
		int64_t db = backoff_delay_ms(n, 1000, 60000, &b);
		int64_t dc = backoff_delay_ms(n, 1000, 60000, &c);

		cr_assert_eq(da, db, "step %d", i);
		differ += da != dc;
	}
	cr_expect_gt(differ, 900);
}

/* Pinned values: a changed generator would silently change every run. */
Test(backoff, generator_is_splitmix64)
{
	uint64_t s = 0;

	cr_assert_eq(backoff_rng_next(&s), UINT64_C(0xe220a8397b1dcdaf));
	cr_assert_eq(backoff_rng_next(&s), UINT64_C(0x6e789e6aa1b965f4));
	cr_assert_eq(backoff_rng_next(&s), UINT64_C(0x06c45d188009454f));
}
