/*
 * sandbox_rate: per-key sliding windows for meisa-sandbox (see the header).
 */
#include "sandbox_rate.h"

#include <stdlib.h>
#include <string.h>

#include "ratespec.h"
#include "xalloc.h"

enum mb_rc sandbox_rate_parse(struct sandbox_rate *rate, const char *spec,
			      struct err *e)
{
	struct ratespec rs;
	size_t i;

	memset(rate, 0, sizeof(*rate));
	if (ratespec_parse(&rs, spec, RATESPEC_SPANS, e) != MB_OK)
		return MB_EUSAGE;
	for (i = 0; i < rs.nwindows; i++) {
		rate->windows[i].limit = rs.windows[i].limit;
		rate->windows[i].span_ms = rs.windows[i].span_ms;
	}
	rate->nwindows = rs.nwindows;
	return MB_OK;
}

void sandbox_rate_log_init(struct sandbox_rate_log *log,
			   const struct sandbox_rate *rate)
{
	size_t i, cap = 0;

	for (i = 0; i < rate->nwindows; i++)
		if (rate->windows[i].limit > cap)
			cap = rate->windows[i].limit;
	log->times = cap ? xcalloc(cap, sizeof(*log->times)) : NULL;
	log->cap = cap;
	log->head = 0;
	log->count = 0;
}

void sandbox_rate_log_release(struct sandbox_rate_log *log)
{
	free(log->times);
	log->times = NULL;
	log->cap = log->head = log->count = 0;
}

int64_t sandbox_rate_admit(const struct sandbox_rate *rate,
			   struct sandbox_rate_log *log, int64_t now_ms)
{
	const struct sandbox_rate_window *w;
	int64_t oldest, wait_ms = 0;
	size_t i;

	for (i = 0; i < rate->nwindows; i++) {
		w = &rate->windows[i];
		if (log->count < w->limit)
			continue;
		/* The limit-th most recent admission decides this window. */
		oldest = log->times[(log->head + log->count - w->limit) %
				    log->cap];
		if (now_ms - oldest < w->span_ms &&
		    oldest + w->span_ms - now_ms > wait_ms)
			wait_ms = oldest + w->span_ms - now_ms;
	}
	if (wait_ms > 0)
		return wait_ms;
	if (!log->cap)
		return 0;
	if (log->count < log->cap) {
		log->times[(log->head + log->count) % log->cap] = now_ms;
		log->count++;
	} else {
		log->times[log->head] = now_ms;
		log->head = (log->head + 1) % log->cap;
	}
	return 0;
}
