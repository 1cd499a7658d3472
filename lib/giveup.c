/*
 * giveup: failing time, accrued only while sending was allowed (giveup.h).
 */
#include "giveup.h"

#include <stdio.h>
#include <string.h>

void giveup_init(struct giveup *g, int64_t budget_ms)
{
	memset(g, 0, sizeof(*g));
	g->budget_ms = budget_ms > 0 ? budget_ms : GIVEUP_DEFAULT_MS;
	g->last_tick_ms = -1;
}

int giveup_tick(struct giveup *g, int64_t now_ms, int held, int resumed)
{
	int64_t from = g->last_tick_ms;

	if (from >= 0 && g->streak && !g->held && !resumed) {
		if (from < g->free_until_ms)
			from = g->free_until_ms;
		if (now_ms > from)
			g->failing_ms += now_ms - from;
	}
	g->last_tick_ms = now_ms;
	g->held = held;
	if (g->failing_ms > g->budget_ms)
		g->gave_up = 1;
	return g->gave_up;
}

void giveup_answer(struct giveup *g)
{
	g->streak = 0;
	g->throttled = 0;
	g->failing_ms = 0;
	g->free_until_ms = 0;
}

void giveup_failure(struct giveup *g, const char *what)
{
	g->streak = 1;
	snprintf(g->last, sizeof(g->last), "%s", what);
}

int giveup_on_429(struct giveup *g, int64_t now_ms, int64_t pause_ms,
		  int64_t retry_after_ms, int64_t own_wait_ms,
		  const char *what)
{
	giveup_failure(g, what);
	if (retry_after_ms >= 0 && own_wait_ms < retry_after_ms &&
	    retry_after_ms > g->budget_ms - g->failing_ms) {
		g->asked_ms = retry_after_ms;
		g->gave_up = 1;
		return 1;
	}
	/* The first pause of a streak is Meisa pacing us: it is not failing. */
	if (!g->throttled++ && now_ms + pause_ms > g->free_until_ms)
		g->free_until_ms = now_ms + pause_ms;
	return 0;
}

void giveup_duration(int64_t ms, char *out, size_t size)
{
	int64_t s = (ms + 999) / 1000;

	if (s < 60)
		snprintf(out, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, size, s % 60 ? "%lldm%02llds" : "%lldm",
			 (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(out, size, "%lldh%02lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
}

enum mb_rc giveup_error(const struct giveup *g, struct err *e)
{
	char asked[32], budget[32];

	giveup_duration(g->budget_ms, budget, sizeof(budget));
	if (g->asked_ms) {
		giveup_duration(g->asked_ms, asked, sizeof(asked));
		giveup_duration(g->budget_ms - g->failing_ms, budget,
				sizeof(budget));
		return err_set(e, MB_EUNAVAILABLE, "Meisa answered 429 and"
			       " asked to wait %s, longer than the give-up"
			       " time left of %s (MEISA_BULK_GIVE_UP_SECONDS)"
			       " (last: %s)", asked, budget, g->last);
	}
	return err_set(e, MB_EUNAVAILABLE, "Meisa answered nothing but errors"
		       " for %s (last: %s)", budget, g->last);
}
