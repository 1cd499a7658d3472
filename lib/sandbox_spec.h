/*
 * sandbox_spec: the pure parts of meisa-sandbox's configuration: the
 * --key, --sequence, --rate-storm and probability specs, and the fault
 * generator (splitmix64) with its draw.  No I/O; public for the unit tests.
 */
#ifndef MB_SANDBOX_SPEC_H
#define MB_SANDBOX_SPEC_H

#include <stdint.h>

#include "err.h"

/* One parsed --key: the key itself (owned), its scopes and environment. */
struct sandbox_key_spec {
	char *key;
	unsigned scopes;             /* SANDBOX_SCOPE_* bits */
	int live;                    /* "meisa_live_..." */
};

#define SANDBOX_KEY_SPEC_INIT { NULL, 0, 0 }

/*
 * Parse "KEY" (every scope) or "KEY=scope,scope" ("KEY=" has no scope).
 * MB_EUSAGE on an empty key, white space or control characters in it, or
 * an unknown scope (named in the message; the key never is).
 */
enum mb_rc sandbox_key_parse(struct sandbox_key_spec *spec, const char *arg,
			     struct err *e);
void sandbox_key_spec_release(struct sandbox_key_spec *spec);

/* Parse "SLUG[=active|paused]": slug (owned) and a static status. */
enum mb_rc sandbox_sequence_parse(const char *arg, char **slug,
				  const char **status, struct err *e);

/* A display name for a slug: "spring-launch_2" -> "Spring launch 2". */
char *sandbox_sequence_name(const char *slug);

/* Parse "START_S:DURATION_S" (decimal seconds) into milliseconds. */
enum mb_rc sandbox_storm_parse(const char *arg, int64_t *start_ms,
			       int64_t *duration_ms, struct err *e);

/* Parse a probability in [0, 1] ("0.05", "5%"). */
enum mb_rc sandbox_fraction_parse(const char *arg, double *out,
				  struct err *e);

enum sandbox_fault {
	SANDBOX_FAULT_NONE, SANDBOX_FAULT_FAIL, SANDBOX_FAULT_DROP,
	SANDBOX_FAULT_LOST_ACK
};

/*
 * The fault for a uniform draw u in [0, 1): fail below fail_rate, drop in
 * the next drop_rate, lost_ack in the next lost_ack_rate, else none.
 */
enum sandbox_fault sandbox_fault_pick(double fail_rate, double drop_rate,
				      double lost_ack_rate, double u);

/* The fault generator (rng_next); reproducible for a given seed. */
uint64_t sandbox_rng_next(uint64_t *state);

/* A uniform double in [0, 1) from the generator (rng_uniform). */
double sandbox_rng_uniform(uint64_t *state);

#endif
