/*
 * backoff: how long to wait before retrying a failed request.
 *
 * Exponential backoff with "full jitter": the delay before retry number
 * attempt (0 for the first retry) is drawn uniformly from
 * [0, min(cap_ms, base_ms * 2^attempt)].  Spreading retries over the whole
 * interval, rather than around its end, keeps many clients (or our own
 * concurrent requests) that failed together from retrying together.
 *
 * The random source is a caller-owned 64-bit state, so a run (or a test) is
 * reproducible from its seed and the module has no hidden globals:
 *
 *   uint64_t rng = BACKOFF_RNG_INIT;      (or backoff_seed(&rng, seed))
 *   delay = backoff_delay_ms(attempt, 1000, 60000, &rng);
 */
#ifndef MB_BACKOFF_H
#define MB_BACKOFF_H

#include <stdint.h>

#include "rng.h"

/* Any value is a valid state; this one is just a fixed default seed. */
#define BACKOFF_RNG_INIT RNG_INIT

/* Set *rng_state from seed (any seed, including 0, gives a usable state). */
void backoff_seed(uint64_t *rng_state, uint64_t seed);

/* The next 64 random bits of the sequence (rng_next: splitmix64). */
uint64_t backoff_rng_next(uint64_t *rng_state);

/*
 * Delay in milliseconds before retry number attempt, in
 * [0, min(cap_ms, base_ms << attempt)]; the ceiling never overflows however
 * large attempt is.  base_ms <= 0 or cap_ms <= 0 give 0.  Advances
 * *rng_state by one step.
 */
int64_t backoff_delay_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms,
			 uint64_t *rng_state);

/* The ceiling of the interval above (without jitter), for messages. */
int64_t backoff_ceiling_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms);

#endif
