/*
 * giveup: the one give-up rule, driven with injected times (hours in
 * milliseconds, no sleeping), alone and together with the limiter.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "giveup.h"
#include "ratelimit.h"

#define SEC 1000
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define TICK 250                 /* the upsert loop's longest tick */

static void ticks(struct giveup *g, int64_t *t, int64_t until, int held)
{
	for (; *t < until; *t += TICK)
		giveup_tick(g, *t, held, 0);
	giveup_tick(g, until, held, 0);
	*t = until;
}

Test(giveup, init_defaults_and_empty)
{
	struct giveup g;

	giveup_init(&g, 0);
	cr_assert_eq(g.budget_ms, GIVEUP_DEFAULT_MS);
	cr_assert_eq(g.failing_ms, 0);
	cr_assert_eq(g.streak, 0);
	cr_assert_eq(giveup_tick(&g, 10 * HOUR, 0, 0), 0);
}

Test(giveup, failing_time_gives_up_past_the_budget)
{
	struct giveup g;
	struct err e = ERR_INIT;
	int64_t t = 0;

	giveup_init(&g, 5 * MIN);
	giveup_tick(&g, t, 0, 0);
	giveup_failure(&g, "503 Service Unavailable: {\"detail\":\"down\"}");
	ticks(&g, &t, 5 * MIN, 0);
	cr_assert_eq(g.gave_up, 0);
	ticks(&g, &t, 5 * MIN + SEC, 0);
	cr_assert_eq(g.gave_up, 1);
	cr_assert_eq(giveup_error(&g, &e), MB_EUNAVAILABLE);
	cr_assert(strstr(e.msg, "nothing but errors for 5m"), "%s", e.msg);
	cr_assert(strstr(e.msg, "(last: 503 Service Unavailable: {"), "%s",
		  e.msg);
	cr_assert_null(strstr(e.msg, "progress is kept"));
}

Test(giveup, a_final_answer_resets_the_streak)
{
	struct giveup g;
	int64_t t = 0;

	giveup_init(&g, 10 * SEC);
	giveup_tick(&g, t, 0, 0);
	giveup_failure(&g, "502 Bad Gateway: x");
	ticks(&g, &t, 9 * SEC, 0);
	giveup_answer(&g);
	cr_assert_eq(g.failing_ms, 0);
	giveup_failure(&g, "502 Bad Gateway: x");
	ticks(&g, &t, 18 * SEC, 0);
	cr_assert_eq(g.gave_up, 0);
}

/* Issue 13 item 1: the client's own window held it 43 min: not failing. */
Test(giveup, time_held_by_own_windows_never_counts)
{
	struct giveup g;
	int64_t t = 0;

	giveup_init(&g, 5 * MIN);
	giveup_tick(&g, t, 0, 0);
	giveup_failure(&g, "timeout");
	ticks(&g, &t, 43 * MIN, 1);
	cr_assert_eq(g.gave_up, 0);
	cr_assert_leq(g.failing_ms, TICK);
}

/* A SIGSTOP of ten minutes (the interval a SIGCONT ended) is not failing. */
Test(giveup, stopped_time_never_counts)
{
	struct giveup g;
	int64_t t = 0;

	giveup_init(&g, 30 * SEC);
	giveup_tick(&g, t, 0, 0);
	giveup_failure(&g, "Couldn't connect to server");
	ticks(&g, &t, 20 * SEC, 0);
	t += 10 * MIN;
	cr_assert_eq(giveup_tick(&g, t, 0, 1), 0);
	cr_assert_eq(g.failing_ms, 20 * SEC);
	ticks(&g, &t, t + 11 * SEC, 0);
	cr_assert_eq(g.gave_up, 1);
}

Test(giveup, first_429_pause_is_free_a_storm_is_not)
{
	struct giveup g;
	int64_t t = 0;

	giveup_init(&g, 10 * SEC);
	giveup_tick(&g, t, 0, 0);
	/* The first 429 of a streak: its 8 s pause costs nothing. */
	cr_assert_eq(giveup_on_429(&g, t, 8 * SEC, 8 * SEC, 0, "429"), 0);
	ticks(&g, &t, 8 * SEC, 0);
	cr_assert_eq(g.failing_ms, 0);
	/* Every further 429 with no final answer between: a storm. */
	while (!g.gave_up) {
		/* The last ones ask for more than is left: at once. */
		if (giveup_on_429(&g, t, 2 * SEC, 2 * SEC, 0,
				  "429 Too Many Requests: slow"))
			break;
		ticks(&g, &t, t + 2 * SEC, 0);
		cr_assert_lt(t, 30 * SEC);
	}
	cr_assert_geq(t, 16 * SEC);
	cr_assert_geq(g.failing_ms, 8 * SEC);
}

Test(giveup, a_429_asking_longer_than_the_budget_gives_up_at_once)
{
	struct giveup g;
	struct err e = ERR_INIT;

	giveup_init(&g, 10 * SEC);
	giveup_tick(&g, 0, 0, 0);
	cr_assert_eq(giveup_on_429(&g, 0, HOUR, HOUR - SEC, 0,
				   "429 Too Many Requests: {}"), 1);
	giveup_error(&g, &e);
	cr_assert(strstr(e.msg, "429"), "%s", e.msg);
	cr_assert(strstr(e.msg, "59m59s"), "%s", e.msg);
	/* Explained by our own 1000/h window: wait, do not give up. */
	giveup_init(&g, 10 * SEC);
	cr_assert_eq(giveup_on_429(&g, 0, 40 * MIN, 40 * MIN, 41 * MIN,
				   "429"), 0);
}

/*
 * Issue 13 item 1: a default run (60/m,1000/h) of 1,200 sends, with a 503
 * streak just when the hour window fills, on the limiter and the rule
 * together: no give-up, and the run takes about an hour.
 */
Test(giveup, default_rate_1200_sends_do_not_give_up)
{
	struct ratelimit rl = RATELIMIT_INIT;
	struct err e = ERR_INIT;
	struct giveup g;
	int64_t t = 0, retry_at = -1;
	int sent = 0, failures = 0;

	cr_assert_eq(ratelimit_parse(&rl, "60/m,1000/h", &e), MB_OK);
	giveup_init(&g, 5 * MIN);
	while (sent < 1200) {
		int held;

		if (ratelimit_wait_ms(&rl, t) == 0 && (retry_at < 0 ||
		    t >= retry_at)) {
			ratelimit_record(&rl, t);
			if (sent == 999 && failures < 3) {
				failures++;
				giveup_failure(&g, "503 Service Unavailable");
				retry_at = t + SEC;
			} else {
				giveup_answer(&g);
				sent++;
			}
		}
		held = ratelimit_own_wait_ms(&rl, t, NULL) > 0;
		cr_assert_eq(giveup_tick(&g, t, held, 0), 0, "gave up at %lld",
			     (long long)t);
		t += TICK;
	}
	cr_assert_gt(t, HOUR);
	cr_assert_lt(t, HOUR + 5 * MIN);
	ratelimit_release(&rl);
}

/* The ETA at the defaults counts the hour window: 1,200 take ~1 h. */
Test(giveup, estimate_counts_every_window)
{
	struct ratelimit rl = RATELIMIT_INIT;
	struct err e = ERR_INIT;
	int64_t eta;

	cr_assert_eq(ratelimit_parse(&rl, "60/m,1000/h", &e), MB_OK);
	eta = ratelimit_estimate_ms(&rl, 1200, 0);
	cr_assert_gt(eta, HOUR);
	cr_assert_lt(eta, HOUR + 10 * MIN);
	ratelimit_release(&rl);
}

/*
 * Issue 13 item 7: send times persisted on the wall clock, reloaded after
 * the wall clock went back an hour, count as sent now (the window frees
 * within its span, not span + step); after a forward step they look older
 * and the window frees sooner, never later.
 */
Test(giveup, persisted_sends_across_wall_clock_steps)
{
	struct ratelimit rl = RATELIMIT_INIT;
	struct err e = ERR_INIT;
	int64_t wall = INT64_C(1700000000000), mono = 5 * SEC;
	int i;

	cr_assert_eq(ratelimit_parse(&rl, "12/m", &e), MB_OK);
	/* Twelve sends recorded 10 s ago, then the clock went back 1 h. */
	for (i = 0; i < 12; i++)
		ratelimit_record(&rl, clock_wall_to_mono(wall - 10 * SEC,
							wall - HOUR, mono));
	cr_assert_leq(ratelimit_wait_ms(&rl, mono), MIN + SEC);
	cr_assert_gt(ratelimit_wait_ms(&rl, mono), 0);
	ratelimit_release(&rl);
	/* The same sends after a forward step of 1 h: out of the window. */
	cr_assert_eq(ratelimit_parse(&rl, "12/m", &e), MB_OK);
	for (i = 0; i < 12; i++)
		ratelimit_record(&rl, clock_wall_to_mono(wall - 10 * SEC,
							wall + HOUR, mono));
	cr_assert_eq(ratelimit_wait_ms(&rl, mono), 0);
	ratelimit_release(&rl);
	/* In the past: mapped exactly. */
	cr_assert_eq(clock_wall_to_mono(wall - 3 * SEC, wall, mono),
		     mono - 3 * SEC);
}
