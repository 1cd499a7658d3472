/*
 * backoff: capped exponential backoff with full jitter, on a caller-owned
 * splitmix64 random state (rng.h).
 */
#include "backoff.h"

#include "rng.h"

void backoff_seed(uint64_t *rng_state, uint64_t seed)
{
	/*
	 * splitmix64 is well distributed from any state, including 0, so the
	 * seed can be used as it is; mixing in the default only keeps seed 0
	 * from repeating the sequence of BACKOFF_RNG_INIT shifted by one.
	 */
	*rng_state = seed ^ BACKOFF_RNG_INIT;
}

uint64_t backoff_rng_next(uint64_t *rng_state)
{
	return rng_next(rng_state);
}

int64_t backoff_ceiling_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms)
{
	int64_t ceiling = base_ms;

	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	/* Double step by step so that a large attempt saturates at the cap. */
	while (attempt-- > 0 && ceiling < cap_ms)
		ceiling = ceiling > INT64_MAX / 2 ? INT64_MAX : ceiling * 2;
	return ceiling < cap_ms ? ceiling : cap_ms;
}

int64_t backoff_delay_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms,
			 uint64_t *rng_state)
{
	uint64_t ceiling, r;

	ceiling = (uint64_t)backoff_ceiling_ms(attempt, base_ms, cap_ms);
	r = backoff_rng_next(rng_state);

	/*
	 * Modulo bias is at most ceiling / 2^64: far below anything a retry
	 * delay could show.
	 */
	return ceiling ? (int64_t)(r % (ceiling + 1)) : 0;
}
