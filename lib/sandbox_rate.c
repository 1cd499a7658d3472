/*
 * sandbox_rate: per-key sliding windows for meisa-sandbox (see the header).
 */
#include "sandbox_rate.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static int64_t unit_ms(char unit)
{
	switch (unit) {
	case 's': return 1000;
	case 'm': return 60 * 1000;
	case 'h': return 3600 * 1000;
	case 'd': return 24 * 3600 * 1000;
	}
	return 0;
}

/* Parse an unsigned decimal at *p, advancing it; -1 when there is none. */
static long long parse_count(const char **p)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)**p))
		return -1;
	errno = 0;
	v = strtoll(*p, &end, 10);
	if (errno == ERANGE)
		v = (long long)SANDBOX_RATE_MAX_LIMIT + 1;
	*p = end;
	return v;
}

/* One window "N/UNIT" or "N/KUNIT" spanning [p, end). */
static enum mb_rc parse_window(struct sandbox_rate_window *w, const char *p,
			       const char *end, struct err *e)
{
	const char *s = p;
	long long limit, mult = 1;
	int len = (int)(end - p);

	limit = parse_count(&s);
	if (limit < 0 || *s != '/')
		goto bad;
	s++;
	if (isdigit((unsigned char)*s))
		mult = parse_count(&s);
	if (s + 1 != end || !unit_ms(*s) || mult < 1 || mult > 1000000)
		goto bad;
	if (limit < 1 || limit > (long long)SANDBOX_RATE_MAX_LIMIT)
		return err_set(e, MB_EUSAGE,
			       "rate window '%.*s': the limit must be between "
			       "1 and %u", len, p, SANDBOX_RATE_MAX_LIMIT);
	w->limit = (uint32_t)limit;
	w->span_ms = mult * unit_ms(*s);
	return MB_OK;
bad:
	return err_set(e, MB_EUSAGE, "bad rate window '%.*s' (expected N/s, "
		       "N/m, N/h, N/d or N/Ks such as 5/2s)", len, p);
}

enum mb_rc sandbox_rate_parse(struct sandbox_rate *rate, const char *spec,
			      struct err *e)
{
	const char *p = spec, *comma;
	enum mb_rc rc;

	memset(rate, 0, sizeof(*rate));
	if (!strcmp(spec, "none"))
		return MB_OK;
	for (;;) {
		comma = strchr(p, ',');
		if (!comma)
			comma = p + strlen(p);
		if (rate->nwindows == SANDBOX_RATE_MAX_WINDOWS) {
			rc = err_set(e, MB_EUSAGE, "rate spec '%s' has more "
				     "than %d windows", spec,
				     SANDBOX_RATE_MAX_WINDOWS);
			goto fail;
		}
		rc = parse_window(&rate->windows[rate->nwindows], p, comma, e);
		if (rc != MB_OK)
			goto fail;
		rate->nwindows++;
		if (!*comma)
			return MB_OK;
		p = comma + 1;
	}
fail:
	memset(rate, 0, sizeof(*rate));
	return rc;
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
