/*
 * ratespec: the one parser of --rate specs, for the client's pacing
 * (ratelimit) and the sandbox's limiter (sandbox_rate).
 *
 * A spec is "none" or up to RATESPEC_MAX_WINDOWS comma-separated windows
 * "N/UNIT": at most N requests in any span of one UNIT, s, m or h
 * ("60/m,1000/h" is Meisa's default).  Two extensions, asked for by flag:
 *
 *   RATESPEC_LOOSE  white space around every token, and "none" and the
 *                   units in any case (" 60 / M , 1000/h "), for a spec a
 *                   person types on meisa-bulk's command line;
 *   RATESPEC_SPANS  days and multiples of a unit: "N/d", "N/Ks" ("5/2s":
 *                   5 in any 2 seconds, K from 1 to RATESPEC_MULT_MAX),
 *                   for the sandbox's test scenarios.
 *
 * meisa-bulk does not take RATESPEC_SPANS: Meisa's windows are a minute
 * and an hour, and ratelimit's plan estimate multiplies a window's span by
 * the contacts left, which a span of a million days would overflow.
 *
 * Errors are MB_EUSAGE with a message that quotes the spec and the bad
 * window: "invalid rate '60/x': '60/x' is not N/s, N/m or N/h".
 */
#ifndef MB_RATESPEC_H
#define MB_RATESPEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define RATESPEC_MAX_WINDOWS 4
/* Largest N accepted in a window (both limiters keep N send times). */
#define RATESPEC_LIMIT_MAX 1000000u
/* Largest K of "N/Ks" (RATESPEC_SPANS). */
#define RATESPEC_MULT_MAX 1000000

#define RATESPEC_LOOSE 1u
#define RATESPEC_SPANS 2u

struct ratespec_window {
	uint32_t limit;          /* requests allowed ... */
	int64_t span_ms;         /* ... in any span of this length */
};

struct ratespec {
	struct ratespec_window windows[RATESPEC_MAX_WINDOWS];
	size_t nwindows;         /* 0: unlimited ("none") */
};

#define RATESPEC_INIT { { { 0, 0 } }, 0 }

/*
 * Parse spec (borrowed; NULL is an error) by the grammar flags allows into
 * *out, written only on success.  MB_EUSAGE with e filled otherwise.
 */
enum mb_rc ratespec_parse(struct ratespec *out, const char *spec,
			  unsigned flags, struct err *e);

#endif
