/*
 * rng: splitmix64, the project's one pseudo-random generator.
 *
 * A caller-owned 64-bit state, so a run (or a test) is reproducible from
 * its seed and the module has no hidden globals.  Any value is a valid
 * state, 0 included: splitmix64 adds a constant before it mixes.  Not for
 * secrets.  Users: backoff's jitter, the sandbox's fault draw, and the
 * seeding of the sandbox's identifier generator.
 *
 *   uint64_t state = RNG_INIT;        (or any seed)
 *   uint64_t bits = rng_next(&state);
 */
#ifndef MB_RNG_H
#define MB_RNG_H

#include <stdint.h>

/* A fixed default seed (the golden ratio, splitmix64's own increment). */
#define RNG_INIT UINT64_C(0x9e3779b97f4a7c15)

/* The next 64 random bits of the sequence; advances *state by one step. */
uint64_t rng_next(uint64_t *state);

/* A uniform double in [0, 1) (53 bits); advances *state by one step. */
double rng_uniform(uint64_t *state);

#endif
