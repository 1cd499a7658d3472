/*
 * ratelimit: client-side pacing under every window of a --rate spec.
 *
 * A spec is "none" or comma-separated windows "N/s", "N/m", "N/h" (e.g.
 * Meisa's default "60/m,1000/h").  The limiter keeps the send times inside
 * the longest window (a ring) and answers, before each send, how long to wait
 * so that no window is exceeded.  It never reads the clock itself: every call
 * takes now_ms, so unit tests drive time.  A 429 pauses sending until its
 * Retry-After (or until the window frees) and lowers the pace; successes bring
 * it back to the configured rate.  Send times are loaded from and saved to the
 * staging file by the caller (ratelimit_record with past times) so that a
 * restarted run respects the part of the hour already used.
 */
#ifndef MB_RATELIMIT_H
#define MB_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define RATELIMIT_MAX_WINDOWS 4

struct ratelimit_window {
	uint32_t limit;          /* requests allowed ... */
	int64_t span_ms;         /* ... in any span of this length */
};

struct ratelimit {
	struct ratelimit_window windows[RATELIMIT_MAX_WINDOWS];
	size_t nwindows;         /* 0: unlimited */
	int64_t *times;          /* ring of send times, oldest first */
	size_t cap, head, count;
	int64_t paused_until_ms; /* set by a 429 */
	double pace;             /* 1.0 = configured rate; lowered by 429s */
	int64_t margin_ms;       /* safety margin added to each window */
};

#define RATELIMIT_INIT { { { 0, 0 } }, 0, NULL, 0, 0, 0, 0, 1.0, 0 }

/* Parse spec into rl (after ratelimit_release).  MB_EUSAGE on a bad spec. */
enum mb_rc ratelimit_parse(struct ratelimit *rl, const char *spec,
			   struct err *e);
void ratelimit_release(struct ratelimit *rl);

/* Milliseconds to wait before the next send may go; 0 means now. */
int64_t ratelimit_wait_ms(const struct ratelimit *rl, int64_t now_ms);

/* A request was sent at t_ms (also used to replay stored send times). */
void ratelimit_record(struct ratelimit *rl, int64_t t_ms);

/* A 429 arrived at now_ms; retry_after_ms < 0 when the header was absent. */
void ratelimit_on_429(struct ratelimit *rl, int64_t now_ms,
		      int64_t retry_after_ms);

/* A request succeeded: recover the pace toward the configured rate. */
void ratelimit_on_success(struct ratelimit *rl);

/*
 * Estimated milliseconds to send n more requests from now_ms, given the
 * windows and the send times already recorded (for the plan).
 */
int64_t ratelimit_estimate_ms(const struct ratelimit *rl, uint64_t n,
			      int64_t now_ms);

/* The longest window's span (how far back send times matter); 0 if none. */
int64_t ratelimit_horizon_ms(const struct ratelimit *rl);

#endif
