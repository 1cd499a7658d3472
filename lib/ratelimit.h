/*
 * ratelimit: client-side pacing under every window of a --rate spec.
 *
 * A spec is "none" or comma-separated windows "N/s", "N/m", "N/h" (e.g.
 * Meisa's default "60/m,1000/h"), as ratespec.h parses it (RATESPEC_LOOSE).
 * The limiter keeps the send times inside the longest window (a ring) and
 * answers, before each send, how long to wait so that no window is
 * exceeded.  It never reads the clock itself: every call
 * takes now_ms, so unit tests drive time.  A 429 pauses sending until its
 * Retry-After (or until the window frees) and lowers the pace; successes bring
 * it back to the configured rate.  The caller's clock should be monotonic
 * (clock.h): a stepped wall clock would stall or burst the windows.  Send
 * times are loaded from and saved to the staging file by the caller
 * (ratelimit_record with past times, mapped by clock_wall_to_mono) so that
 * a restarted run respects the part of the hour already used.
 *
 * Why it cannot overrun a server enforcing the same windows.  A window of
 * N per span lets request i go only once request i-N was counted at least
 * span + margin earlier.  The server counts arrival times, which are send
 * times plus a latency d; the gap it sees between i-N and i is our gap plus
 * d(i) - d(i-N).  A constant latency shifts both and changes nothing; only
 * the latency's variation (jitter, a slow first connection, a busy server
 * or CPU) can shrink the gap, and a fixed margin that covers it costs its
 * size in every span (20 ms of 1 s: 2%).  So once answered, a send counts
 * at answer - min_rtt instead of when it left (ratelimit_answered): its
 * arrival was at most that, less the shortest one-way trip d_min, because
 * the answer took at least min_rtt >= d_min + r_min to come back, and
 * request i arrives at least d_min after it leaves.  A late arrival (a slow
 * first connection, a busy server) makes a late answer and moves the count
 * with it, whatever its size; the cost is only each request's round trip
 * beyond the shortest.  The shortest seen may not be the true one yet, so
 * it is credited less 20 ms (or half of it, when shorter): a far server
 * costs about what the former fixed 20 ms margin cost, and its spikes are
 * absorbed too.  The margin covers the rest: timer rounding and a server
 * counting the closed window [t - span, t].  3 ms for per-second windows: >= 99% used (measured: 99.4%
 * at 20/s against meisa-sandbox, zero 429s, where the former fixed 20 ms
 * margin gave 98.0%); minute and hour windows keep a quarter of a second,
 * which costs nothing measurable.  Until its answer, a send counts from
 * when it was handed to the transport.  Bursts are allowed: at pace 1, N
 * requests may leave at once.
 */
#ifndef MB_RATELIMIT_H
#define MB_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ratespec.h"

#define RATELIMIT_MAX_WINDOWS RATESPEC_MAX_WINDOWS
/* Largest N accepted in a window (the ring holds N send times). */
#define RATELIMIT_LIMIT_MAX RATESPEC_LIMIT_MAX
/* Lowest pace 429s can push the limiter to. */
#define RATELIMIT_PACE_MIN 0.1

struct ratelimit_window {
	uint32_t limit;          /* requests allowed ... */
	int64_t span_ms;         /* ... in any span of this length */
	int64_t margin_ms;       /* extra wait for jitter (set by parse) */
};

struct ratelimit {
	struct ratelimit_window windows[RATELIMIT_MAX_WINDOWS];
	size_t nwindows;         /* 0: unlimited */
	int64_t *times;          /* ring of send times, oldest first */
	size_t cap, head, count;
	int64_t paused_until_ms; /* set by a 429 */
	double pace;             /* 1.0 = configured rate; lowered by 429s */
	int64_t margin_ms;       /* extra margin added to every window (0) */
	int64_t min_rtt_ms;      /* shortest wire-to-answer time seen; -1 */
};

#define RATELIMIT_INIT { { { 0, 0, 0 } }, 0, NULL, 0, 0, 0, 0, 1.0, 0, -1 }

/*
 * Parse spec into rl (after ratelimit_release), each window with its
 * margin.  MB_EUSAGE on a bad spec, with ratespec's message quoting it; rl
 * is then left released.
 */
enum mb_rc ratelimit_parse(struct ratelimit *rl, const char *spec,
			   struct err *e);
void ratelimit_release(struct ratelimit *rl);

/*
 * Milliseconds to wait before the next send may go; 0 means now.  It is the
 * latest of: the end of a 429 pause; for every window, the moment the send
 * that would make N+1 falls out of it (plus margins); and, while the pace is
 * below 1, the last send plus span / (N * pace) of the strictest window.
 */
int64_t ratelimit_wait_ms(const struct ratelimit *rl, int64_t now_ms);

/*
 * The part of ratelimit_wait_ms that the windows alone impose at the
 * configured rate (no 429 pause, no lowered pace): how long the client's
 * own --rate holds the next send back.  *which (if not NULL) is set to the
 * window that holds it longest, NULL when none holds.
 */
int64_t ratelimit_own_wait_ms(const struct ratelimit *rl, int64_t now_ms,
			      const struct ratelimit_window **which);

/*
 * A request was sent at t_ms (also used to replay stored send times).  Times
 * may come in any order; only the most recent ones the windows need are
 * kept.  A no-op for "none".
 */
void ratelimit_record(struct ratelimit *rl, int64_t t_ms);

/*
 * The send recorded at from_ms is to count at to_ms instead (the order of
 * the ring is kept).  A no-op when from_ms is no longer kept.
 */
void ratelimit_move(struct ratelimit *rl, int64_t from_ms, int64_t to_ms);

/*
 * The send recorded at sent_ms went on the wire at wire_ms and its answer
 * came back at answer_ms: from now on it counts at answer_ms less (most
 * of) the shortest round trip seen so far (see "Why it cannot overrun"
 * above); a new shortest moves every kept send later by the difference.
 */
void ratelimit_answered(struct ratelimit *rl, int64_t sent_ms,
			int64_t wire_ms, int64_t answer_ms);

/*
 * A 429 arrived at now_ms; retry_after_ms < 0 when the header was absent.
 * Pauses until now + retry_after, or else until the fullest window frees
 * (the shortest window's span when nothing recorded explains the 429).
 * The pace is halved (down to RATELIMIT_PACE_MIN), once per pause: 429s
 * answering requests sent before the pause began do not lower it again.
 */
void ratelimit_on_429(struct ratelimit *rl, int64_t now_ms,
		      int64_t retry_after_ms);

/* A request succeeded: recover the pace toward the configured rate. */
void ratelimit_on_success(struct ratelimit *rl);

/*
 * Estimated milliseconds to send n more requests from now_ms, given the
 * windows and the send times already recorded (for the plan): the time at
 * which the last of them may leave, latency not included.  Simulated
 * exactly up to RATELIMIT_SIM_MAX requests, extrapolated beyond from the
 * strictest window's period.
 */
#define RATELIMIT_SIM_MAX ((uint64_t)1 << 20)
int64_t ratelimit_estimate_ms(const struct ratelimit *rl, uint64_t n,
			      int64_t now_ms);

/*
 * How far back send times matter: the longest window's span plus its
 * margins; 0 if none.  The caller replays stored sends newer than
 * now - horizon after a restart.
 */
int64_t ratelimit_horizon_ms(const struct ratelimit *rl);

#endif
