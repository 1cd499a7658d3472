/*
 * ratespec: --rate specs into windows (see the header for the grammar).
 */
#include "ratespec.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* One spec being parsed: the text, for messages, and its grammar. */
struct parser {
	const char *spec;
	unsigned flags;
	struct err *e;
};

static int64_t unit_ms(const struct parser *ps, char unit)
{
	if (ps->flags & RATESPEC_LOOSE)
		unit = (char)tolower((unsigned char)unit);
	switch (unit) {
	case 's': return 1000;
	case 'm': return 60 * 1000;
	case 'h': return 60 * 60 * 1000;
	case 'd': return ps->flags & RATESPEC_SPANS ? 24 * 3600 * 1000 : 0;
	}
	return 0;
}

static const char *skip_space(const struct parser *ps, const char *p,
			      const char *end)
{
	if (ps->flags & RATESPEC_LOOSE)
		while (p < end && isspace((unsigned char)*p))
			p++;
	return p;
}

/* Digits at *p (advanced past them), saturated just above max; -1: none. */
static int64_t number(const char **p, const char *end, int64_t max)
{
	int64_t n = 0;

	if (*p >= end || !isdigit((unsigned char)**p))
		return -1;
	for (; *p < end && isdigit((unsigned char)**p); (*p)++)
		if ((n = n * 10 + (**p - '0')) > max)
			n = max + 1;    /* keep it from wrapping */
	return n;
}

static enum mb_rc bad_window(const struct parser *ps, const char *p,
			     const char *end)
{
	return err_set(ps->e, MB_EUSAGE, "invalid rate '%s': '%.*s' is not "
		       "%s", ps->spec, (int)(end - p), p,
		       ps->flags & RATESPEC_SPANS ?
		       "N/s, N/m, N/h, N/d or N/Ks (such as 5/2s)" :
		       "N/s, N/m or N/h");
}

/* The span after the '/' of a window: "[K]UNIT" in [p, end). */
static int64_t span_of(const struct parser *ps, const char *p,
		       const char *end)
{
	int64_t mult = 1, unit;

	if (ps->flags & RATESPEC_SPANS && p < end &&
	    isdigit((unsigned char)*p)) {
		mult = number(&p, end, RATESPEC_MULT_MAX);
		if (mult < 1 || mult > RATESPEC_MULT_MAX)
			return 0;
	}
	if (p >= end || !(unit = unit_ms(ps, *p)) ||
	    skip_space(ps, p + 1, end) != end)
		return 0;
	return mult * unit;
}

/* One window "N/[K]UNIT" in [p, end) into w. */
static enum mb_rc parse_window(const struct parser *ps,
			       struct ratespec_window *w, const char *p,
			       const char *end)
{
	const char *q;
	int64_t limit, span;

	p = skip_space(ps, p, end);
	while (ps->flags & RATESPEC_LOOSE && end > p &&
	       isspace((unsigned char)end[-1]))
		end--;
	if (p == end)
		return err_set(ps->e, MB_EUSAGE,
			       "invalid rate '%s': empty window", ps->spec);
	q = p;
	limit = number(&q, end, RATESPEC_LIMIT_MAX);
	q = skip_space(ps, q, end);
	if (limit < 0 || q >= end || *q != '/')
		return bad_window(ps, p, end);
	span = span_of(ps, skip_space(ps, q + 1, end), end);
	if (!span)
		return bad_window(ps, p, end);
	if (limit < 1 || limit > RATESPEC_LIMIT_MAX)
		return err_set(ps->e, MB_EUSAGE, "invalid rate '%s': '%.*s' "
			       "must allow between 1 and %u requests",
			       ps->spec, (int)(end - p), p,
			       RATESPEC_LIMIT_MAX);
	w->limit = (uint32_t)limit;
	w->span_ms = span;
	return MB_OK;
}

static int is_none(const struct parser *ps, const char *p, const char *end)
{
	if (!(ps->flags & RATESPEC_LOOSE))
		return !strcmp(p, "none");
	return end - p >= 4 && !strncasecmp(p, "none", 4) &&
		skip_space(ps, p + 4, end) == end;
}

enum mb_rc ratespec_parse(struct ratespec *out, const char *spec,
			  unsigned flags, struct err *e)
{
	struct ratespec parsed = RATESPEC_INIT;
	struct parser ps = { spec, flags, e };
	const char *p, *comma, *end;

	if (!spec)
		return err_set(e, MB_EUSAGE, "missing rate");
	end = spec + strlen(spec);
	p = skip_space(&ps, spec, end);
	if (p == end)
		return err_set(e, MB_EUSAGE, "invalid rate '%s': expected "
			       "'none' or windows such as 60/m,1000/h", spec);
	if (!is_none(&ps, p, end)) {
		for (;;) {
			comma = memchr(p, ',', (size_t)(end - p));
			if (parsed.nwindows == RATESPEC_MAX_WINDOWS)
				return err_set(e, MB_EUSAGE, "invalid rate "
					       "'%s': more than %d windows",
					       spec, RATESPEC_MAX_WINDOWS);
			if (parse_window(&ps, &parsed.windows[parsed.nwindows],
					 p, comma ? comma : end) != MB_OK)
				return MB_EUSAGE;
			parsed.nwindows++;
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	*out = parsed;
	return MB_OK;
}
