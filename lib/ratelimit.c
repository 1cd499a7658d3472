/*
 * ratelimit: sliding-window pacing over a ring of send times (see
 * ratelimit.h for the reasoning behind the margins).
 *
 * The ring holds the most recent send times in non-decreasing order, as
 * many as the largest window allows (a window of N only ever needs the Nth
 * most recent send: the next request may leave once that one is out of the
 * window).  Everything is integer milliseconds on the caller's clock.
 */
#include "ratelimit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ratespec.h"
#include "xalloc.h"

/* Pause after a 429 with nothing to go by (no windows, no Retry-After). */
#define PAUSE_DEFAULT_MS 1000
#define PACE_RECOVERY 1.1

/*
 * The margin of a window (ratelimit.h): 3 ms for spans under a minute
 * (with sends counting from their answers, a 20/s run stays within 1% of
 * 20/s), a quarter of a second for minute and hour windows, where it
 * covers a TLS handshake's worth of skew and costs nothing measurable.
 */
static int64_t margin_for_span(int64_t span_ms)
{
	return span_ms < 60000 ? 3 : 250;
}

enum mb_rc ratelimit_parse(struct ratelimit *rl, const char *spec,
			   struct err *e)
{
	struct ratelimit parsed = RATELIMIT_INIT;
	struct ratespec rs;
	size_t i;

	if (ratespec_parse(&rs, spec, RATESPEC_LOOSE, e) != MB_OK)
		return MB_EUSAGE;
	for (i = 0; i < rs.nwindows; i++) {
		parsed.windows[i].limit = rs.windows[i].limit;
		parsed.windows[i].span_ms = rs.windows[i].span_ms;
		parsed.windows[i].margin_ms =
			margin_for_span(rs.windows[i].span_ms);
		if (rs.windows[i].limit > parsed.cap)
			parsed.cap = rs.windows[i].limit;
	}
	parsed.nwindows = rs.nwindows;
	if (parsed.cap)
		parsed.times = xcalloc(parsed.cap, sizeof(*parsed.times));
	*rl = parsed;
	return MB_OK;
}

void ratelimit_release(struct ratelimit *rl)
{
	struct ratelimit empty = RATELIMIT_INIT;

	free(rl->times);
	*rl = empty;
}

/* The i-th recorded send time, 0 being the oldest kept. */
static int64_t ring_at(const struct ratelimit *rl, size_t i)
{
	return rl->times[(rl->head + i) % rl->cap];
}

static int64_t *ring_slot(struct ratelimit *rl, size_t i)
{
	return &rl->times[(rl->head + i) % rl->cap];
}

static int64_t window_margin(const struct ratelimit *rl,
			     const struct ratelimit_window *w)
{
	return w->margin_ms + rl->margin_ms;
}

/* Minimum spacing between sends while the pace is below 1; 0 otherwise. */
static int64_t pace_gap_ms(const struct ratelimit *rl)
{
	double gap = 0, g;
	size_t i;

	if (rl->pace >= 1.0)
		return 0;
	for (i = 0; i < rl->nwindows; i++) {
		g = (double)rl->windows[i].span_ms /
			((double)rl->windows[i].limit * rl->pace);
		if (g > gap)
			gap = g;
	}
	return (int64_t)ceil(gap);
}

int64_t ratelimit_own_wait_ms(const struct ratelimit *rl, int64_t now_ms,
			      const struct ratelimit_window **which)
{
	const struct ratelimit_window *w;
	int64_t at = now_ms, t;
	size_t i;

	if (which)
		*which = NULL;
	for (i = 0; i < rl->nwindows; i++) {
		w = &rl->windows[i];
		if (rl->count < w->limit)
			continue;
		/* The send that would be the (N+1)th in the window. */
		t = ring_at(rl, rl->count - w->limit) + w->span_ms +
			window_margin(rl, w);
		if (t > at) {
			at = t;
			if (which)
				*which = w;
		}
	}
	return at - now_ms;
}

int64_t ratelimit_wait_ms(const struct ratelimit *rl, int64_t now_ms)
{
	int64_t at = now_ms + ratelimit_own_wait_ms(rl, now_ms, NULL), t;

	if (rl->paused_until_ms > at)
		at = rl->paused_until_ms;
	if (rl->count && rl->pace < 1.0) {
		t = ring_at(rl, rl->count - 1) + pace_gap_ms(rl);
		if (t > at)
			at = t;
	}
	return at - now_ms;
}

void ratelimit_record(struct ratelimit *rl, int64_t t_ms)
{
	size_t i;

	if (!rl->cap)
		return;
	if (rl->count == rl->cap) {
		/* Older than all we keep: no window can need it. */
		if (t_ms < ring_at(rl, 0))
			return;
		rl->head = (rl->head + 1) % rl->cap;
		rl->count--;
	}
	/* Keep the ring sorted; replayed or racing times may come late. */
	for (i = rl->count; i > 0 && ring_at(rl, i - 1) > t_ms; i--)
		*ring_slot(rl, i) = ring_at(rl, i - 1);
	*ring_slot(rl, i) = t_ms;
	rl->count++;
}

void ratelimit_move(struct ratelimit *rl, int64_t from_ms, int64_t to_ms)
{
	size_t i = rl->count;

	while (i > 0 && ring_at(rl, i - 1) != from_ms)
		i--;
	if (!i--)
		return;
	/* Slide the neighbours over until to_ms fits, keeping the order. */
	for (; i + 1 < rl->count && ring_at(rl, i + 1) < to_ms; i++)
		*ring_slot(rl, i) = ring_at(rl, i + 1);
	for (; i > 0 && ring_at(rl, i - 1) > to_ms; i--)
		*ring_slot(rl, i) = ring_at(rl, i - 1);
	*ring_slot(rl, i) = to_ms;
}

/*
 * How far before its answer a send counts: the shortest round trip seen,
 * less a doubt (it may not be the true shortest yet) of RTT_DOUBT_MS or
 * half of it, whichever is less.
 */
#define RTT_DOUBT_MS 20

static int64_t rtt_credit(int64_t min_rtt_ms)
{
	int64_t less = min_rtt_ms - RTT_DOUBT_MS, half = min_rtt_ms / 2;

	return less > half ? less : half;
}

void ratelimit_answered(struct ratelimit *rl, int64_t sent_ms,
			int64_t wire_ms, int64_t answer_ms)
{
	int64_t rtt = answer_ms > wire_ms ? answer_ms - wire_ms : 0, later;
	size_t i;

	if (rl->min_rtt_ms >= 0 && rtt < rl->min_rtt_ms) {
		/* A shorter round trip: what was answered counts that much
		 * later (the rest too, harmlessly: a few times a run). */
		later = rtt_credit(rl->min_rtt_ms) - rtt_credit(rtt);
		for (i = 0; i < rl->count; i++)
			*ring_slot(rl, i) += later;
		sent_ms += later;
	}
	if (rl->min_rtt_ms < 0 || rtt < rl->min_rtt_ms)
		rl->min_rtt_ms = rtt;
	ratelimit_move(rl, sent_ms, answer_ms - rtt_credit(rl->min_rtt_ms));
}

/* Sends recorded in (now - span, now], scanning back from the newest. */
static size_t count_in_window(const struct ratelimit *rl, int64_t span_ms,
			      int64_t now_ms, int64_t *oldest)
{
	size_t n = 0;
	int64_t t;

	while (n < rl->count) {
		t = ring_at(rl, rl->count - 1 - n);
		if (t <= now_ms - span_ms)
			break;
		if (t <= now_ms)
			*oldest = t;
		n++;
	}
	return n;
}

/*
 * When a 429 came without Retry-After: the moment the fullest window (by
 * share of its limit) frees its oldest send.  With nothing recorded in any
 * window, someone else is spending the key: wait one shortest span.
 */
static int64_t window_free_at(const struct ratelimit *rl, int64_t now_ms)
{
	const struct ratelimit_window *w, *shortest = NULL;
	double fill, best = 0;
	int64_t at = now_ms + PAUSE_DEFAULT_MS, oldest;
	size_t i, n;

	for (i = 0; i < rl->nwindows; i++) {
		w = &rl->windows[i];
		if (!shortest || w->span_ms < shortest->span_ms)
			shortest = w;
		oldest = now_ms;
		n = count_in_window(rl, w->span_ms, now_ms, &oldest);
		fill = (double)n / w->limit;
		if (n && fill > best) {
			best = fill;
			at = oldest + w->span_ms + window_margin(rl, w);
		}
	}
	if (best == 0 && shortest)
		at = now_ms + shortest->span_ms + window_margin(rl, shortest);
	return at;
}

void ratelimit_on_429(struct ratelimit *rl, int64_t now_ms,
		      int64_t retry_after_ms)
{
	int64_t until;

	until = retry_after_ms >= 0 ? now_ms + retry_after_ms
				    : window_free_at(rl, now_ms);
	if (now_ms >= rl->paused_until_ms) {
		rl->pace *= 0.5;
		if (rl->pace < RATELIMIT_PACE_MIN)
			rl->pace = RATELIMIT_PACE_MIN;
	}
	if (until > rl->paused_until_ms)
		rl->paused_until_ms = until;
}

void ratelimit_on_success(struct ratelimit *rl)
{
	rl->pace *= PACE_RECOVERY;
	if (rl->pace > 1.0)
		rl->pace = 1.0;
}

/* Each constraint repeats: L more sends need at least P more ms. */
struct cycle {
	uint64_t sends;
	int64_t period_ms;
};

/* The strictest constraint: the largest period per send. */
static struct cycle critical_cycle(const struct ratelimit *rl)
{
	struct cycle best = { 1, 0 }, c;
	size_t i;

	for (i = 0; i < rl->nwindows; i++) {
		c.sends = rl->windows[i].limit;
		c.period_ms = rl->windows[i].span_ms +
			window_margin(rl, &rl->windows[i]);
		if ((double)c.period_ms * best.sends >
		    (double)best.period_ms * c.sends)
			best = c;
	}
	c.sends = 1;
	c.period_ms = pace_gap_ms(rl);
	if ((double)c.period_ms * best.sends >
	    (double)best.period_ms * c.sends)
		best = c;
	return best;
}

/*
 * Past the simulated part the schedule is periodic in the strictest
 * window: the send L* after send j leaves exactly P* after it.  Writing
 * the last send as j + q * L* with j among the last L* simulated ones gives
 * its time as s(j) + q * P*.
 */
static int64_t extrapolate(const struct ratelimit *sim, uint64_t done,
			   uint64_t n)
{
	struct cycle c = critical_cycle(sim);
	uint64_t left = n - done;
	uint64_t q = (left + c.sends - 1) / c.sends;
	uint64_t back = q * c.sends - left; /* j = done - 1 - back */
	int64_t base = ring_at(sim, sim->count - 1 - (size_t)back);

	if (c.period_ms > 0 && q > (uint64_t)(INT64_MAX - base) /
				   (uint64_t)c.period_ms)
		return INT64_MAX;
	return base + (int64_t)q * c.period_ms;
}

int64_t ratelimit_estimate_ms(const struct ratelimit *rl, uint64_t n,
			      int64_t now_ms)
{
	struct ratelimit sim = *rl;
	uint64_t i, steps = n < RATELIMIT_SIM_MAX ? n : RATELIMIT_SIM_MAX;
	int64_t t = now_ms, last;
	size_t k;

	if (!n)
		return 0;
	if (!rl->nwindows)
		return ratelimit_wait_ms(rl, now_ms);
	/* Simulate on a private copy of the ring, unrolled from its head. */
	sim.times = xmalloc(rl->cap * sizeof(*sim.times));
	for (k = 0; k < rl->count; k++)
		sim.times[k] = ring_at(rl, k);
	sim.head = 0;
	for (i = 0; i < steps; i++) {
		t += ratelimit_wait_ms(&sim, t);
		ratelimit_record(&sim, t);
	}
	last = steps < n ? extrapolate(&sim, steps, n) : t;
	free(sim.times);
	return last == INT64_MAX ? INT64_MAX : last - now_ms;
}

int64_t ratelimit_horizon_ms(const struct ratelimit *rl)
{
	int64_t horizon = 0, h;
	size_t i;

	for (i = 0; i < rl->nwindows; i++) {
		h = rl->windows[i].span_ms + window_margin(rl,
							   &rl->windows[i]);
		if (h > horizon)
			horizon = h;
	}
	return horizon;
}
