/*
 * sandbox_rate: meisa-sandbox's server-side rate limiter.
 *
 * Meisa throttles per key with sliding windows, Django REST Framework style:
 * a request is admitted when, for every window "N per span", fewer than N
 * admitted requests fall inside the last span; a refused request (429) is
 * not counted.  The sandbox keeps one log per key: a ring of the admission
 * times of the last max(N) admitted requests, which is all any window needs.
 *
 * A spec is "none" or comma-separated windows "N/UNIT" or "N/KUNIT", UNIT one
 * of s, m, h, d ("60/m,1000/h" is Meisa's default; "5/2s" allows 5 requests
 * in any 2 seconds): ratespec.h's grammar with RATESPEC_SPANS.  Nothing
 * here reads the clock: callers pass now_ms.
 *
 *   struct sandbox_rate rate = SANDBOX_RATE_INIT;
 *   struct sandbox_rate_log log = SANDBOX_RATE_LOG_INIT;
 *   rc = sandbox_rate_parse(&rate, "60/m,1000/h", &e);
 *   sandbox_rate_log_init(&log, &rate);
 *   wait_ms = sandbox_rate_admit(&rate, &log, now_ms);   (0: admitted)
 *   sandbox_rate_log_release(&log);
 */
#ifndef MB_SANDBOX_RATE_H
#define MB_SANDBOX_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ratespec.h"

#define SANDBOX_RATE_MAX_WINDOWS RATESPEC_MAX_WINDOWS
#define SANDBOX_RATE_MAX_LIMIT RATESPEC_LIMIT_MAX
#define SANDBOX_RATE_DEFAULT "60/m,1000/h"

struct sandbox_rate_window {
	uint32_t limit;          /* requests admitted ... */
	int64_t span_ms;         /* ... in any span of this length */
};

struct sandbox_rate {
	struct sandbox_rate_window windows[SANDBOX_RATE_MAX_WINDOWS];
	size_t nwindows;         /* 0: unlimited ("none") */
};

#define SANDBOX_RATE_INIT { { { 0, 0 } }, 0 }

/*
 * Parse spec into rate (overwritten, also on failure).  MB_EUSAGE with
 * ratespec's message, quoting the spec and the bad window, on a malformed
 * spec, a zero or too large limit (over SANDBOX_RATE_MAX_LIMIT), or more
 * than SANDBOX_RATE_MAX_WINDOWS windows.
 */
enum mb_rc sandbox_rate_parse(struct sandbox_rate *rate, const char *spec,
			      struct err *e);

/* Admission times of one key, oldest first, in a ring. */
struct sandbox_rate_log {
	int64_t *times;
	size_t cap, head, count;
};

#define SANDBOX_RATE_LOG_INIT { NULL, 0, 0, 0 }

/* Size the ring for rate (no storage at all when rate is unlimited). */
void sandbox_rate_log_init(struct sandbox_rate_log *log,
			   const struct sandbox_rate *rate);
void sandbox_rate_log_release(struct sandbox_rate_log *log);

/*
 * Admit a request arriving at now_ms: returns 0 and records it, or returns
 * the milliseconds (>= 1) until every exceeded window frees a slot, and
 * records nothing.  now_ms must not go backwards between calls by more than
 * the clock's own jitter (times are compared, never sorted).
 */
int64_t sandbox_rate_admit(const struct sandbox_rate *rate,
			   struct sandbox_rate_log *log, int64_t now_ms);

#endif
