/*
 * giveup: when a run stops trying to reach Meisa (MB_EUNAVAILABLE, exit 69).
 *
 * One rule for every call (ping, pre-flight, lists, enrollment chunks and
 * the parallel upserts), kept here as pure functions over times the caller
 * passes in (CLOCK_MONOTONIC milliseconds in the tool, injected in tests):
 *
 *  - A failure (5xx, 408, 425, a transport error, a 429) starts a streak;
 *    any final answer (2xx, or a 4xx about the contact) ends and resets it.
 *  - "Failing time" accrues, while a streak runs, only in the intervals
 *    between ticks in which the client was allowed to send: not while its
 *    own --rate windows held the next send back, not during the pause
 *    after the first 429 of the streak, not across an interval in which
 *    the process was stopped (SIGSTOP/SIGCONT: the caller passes resumed).
 *    A stepped wall clock cannot count: the times are monotonic.
 *  - Consecutive 429s with no final answer between them are a storm: the
 *    pauses after the second and later ones count.
 *  - A 429 asking for a wait longer than what is left of the budget, that
 *    the client's own windows do not explain, gives up at once.
 *  - The run gives up when failing time exceeds budget_ms
 *    (MEISA_BULK_GIVE_UP_SECONDS, default 300 s).
 *
 * Callers tick often (the upsert loop every <= 250 ms, one-shot calls
 * around each wait and request):
 *
 *   struct giveup g;
 *   giveup_init(&g, budget_ms);
 *   ... giveup_failure(&g, now, "503 Service Unavailable: ...");
 *   if (giveup_tick(&g, now, held, resumed)) -> giveup_error(&g, &e)
 *
 * No resources are held: nothing to release.
 */
#ifndef MB_GIVEUP_H
#define MB_GIVEUP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define GIVEUP_DEFAULT_MS 300000
#define GIVEUP_LAST_MAX 400

struct giveup {
	int64_t budget_ms;
	int64_t failing_ms;      /* accrued in the current streak */
	int64_t last_tick_ms;    /* -1: no tick yet */
	int64_t free_until_ms;   /* the first 429's pause does not count */
	int held;                /* own windows hold the next send back */
	int streak;              /* a failure with no final answer since */
	unsigned throttled;      /* 429s in the streak */
	int64_t asked_ms;        /* a 429's wait that made it give up at once */
	int gave_up;
	char last[GIVEUP_LAST_MAX]; /* the last error, for the message */
};

/* Set g up with budget_ms (<= 0: GIVEUP_DEFAULT_MS). */
void giveup_init(struct giveup *g, int64_t budget_ms);

/*
 * Time passes: the interval since the last tick is failing time when a
 * streak runs, the client was not held at the start of the interval, the
 * process was not stopped in it (resumed: a SIGCONT arrived) and it lies
 * past the first 429's pause.  held says whether the client's own windows
 * hold the next send back from now on.  1 when the budget is exceeded
 * (and from then on).
 */
int giveup_tick(struct giveup *g, int64_t now_ms, int held, int resumed);

/* A final answer (2xx, or a 4xx about the request): the streak ends. */
void giveup_answer(struct giveup *g);

/* A retryable failure; what (copied) names it for the message. */
void giveup_failure(struct giveup *g, const char *what);

/*
 * A 429 at now_ms.  pause_ms: how long sending now pauses for it;
 * retry_after_ms: the wait Meisa asked for (-1: none); own_wait_ms: how
 * long the client's own windows would hold the next send anyway.  1 when
 * the run must give up at once: Meisa asked for longer than the budget has
 * left and the windows do not explain it.
 */
int giveup_on_429(struct giveup *g, int64_t now_ms, int64_t pause_ms,
		  int64_t retry_after_ms, int64_t own_wait_ms,
		  const char *what);

/*
 * The give-up message into e with MB_EUNAVAILABLE ("Meisa answered nothing
 * but errors for 5m (last: 503 ...)", or what a 429 asked for); returns
 * MB_EUNAVAILABLE.
 */
enum mb_rc giveup_error(const struct giveup *g, struct err *e);

/* "41m", "1h05m", "12s": a duration for messages, rounded up. */
void giveup_duration(int64_t ms, char *out, size_t size);

#endif
