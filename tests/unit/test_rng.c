/*
 * rng: the one generator gives splitmix64's sequence, and uniform draws in
 * [0, 1) that a seed reproduces.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "rng.h"

/* Pinned values: a changed generator would silently change every run. */
Test(rng, sequence_is_splitmix64)
{
	uint64_t s = 0;

	cr_assert_eq(rng_next(&s), UINT64_C(0xe220a8397b1dcdaf));
	cr_assert_eq(rng_next(&s), UINT64_C(0x6e789e6aa1b965f4));
	cr_assert_eq(rng_next(&s), UINT64_C(0x06c45d188009454f));
	cr_assert_eq(s, UINT64_C(3) * RNG_INIT);
}

Test(rng, uniform_is_in_unit_interval_and_reproducible)
{
	uint64_t a = 42, b = 42;
	double u, lo = 1, hi = 0;
	int i;

	for (i = 0; i < 10000; i++) {
		u = rng_uniform(&a);
		cr_assert(u >= 0 && u < 1, "%g", u);
		cr_assert_eq(u, rng_uniform(&b));
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
	}
	cr_expect_lt(lo, 0.01);
	cr_expect_gt(hi, 0.99);
}
