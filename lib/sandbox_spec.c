/*
 * sandbox_spec: meisa-sandbox's option specs and fault draw (see the header).
 */
#include "sandbox_spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sandbox_api.h"
#include "xalloc.h"

uint64_t sandbox_rng_next(uint64_t *state)
{
	return rng_next(state);
}

double sandbox_rng_uniform(uint64_t *state)
{
	return rng_uniform(state);
}

enum sandbox_fault sandbox_fault_pick(double fail_rate, double drop_rate,
				      double lost_ack_rate, double u)
{
	if (u < fail_rate)
		return SANDBOX_FAULT_FAIL;
	if (u < fail_rate + drop_rate)
		return SANDBOX_FAULT_DROP;
	if (u < fail_rate + drop_rate + lost_ack_rate)
		return SANDBOX_FAULT_LOST_ACK;
	return SANDBOX_FAULT_NONE;
}

enum mb_rc sandbox_fraction_parse(const char *arg, double *out,
				  struct err *e)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end != arg && *end == '%' && !end[1]) {
		v /= 100.0;
		end++;
	}
	if (end == arg || *end || errno || !isfinite(v) || v < 0.0 ||
	    v > 1.0 || isspace((unsigned char)*arg))
		return err_set(e, MB_EUSAGE, "bad probability '%s' (expected "
			       "a number from 0 to 1, or a percentage)", arg);
	*out = v;
	return MB_OK;
}

void sandbox_key_spec_release(struct sandbox_key_spec *spec)
{
	if (spec->key)
		memset(spec->key, 0, strlen(spec->key));
	free(spec->key);
	spec->key = NULL;
	spec->scopes = 0;
	spec->live = 0;
}

static enum mb_rc parse_scopes(const char *p, unsigned *scopes,
			       struct err *e)
{
	const char *comma;
	unsigned bit;
	size_t n;

	*scopes = 0;
	while (*p) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		bit = sandbox_scope_lookup(p, n);
		if (!bit)
			return err_set(e, MB_EUSAGE, "--key: unknown scope "
				       "'%.*s' (scopes: contacts:read, "
				       "contacts:write, events:track, "
				       "sequences:read, sequences:enroll, "
				       "emails:trigger, tags:write)",
				       (int)n, p);
		*scopes |= bit;
		p += n + (comma ? 1 : 0);
	}
	return MB_OK;
}

enum mb_rc sandbox_key_parse(struct sandbox_key_spec *spec, const char *arg,
			     struct err *e)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg), i;
	unsigned scopes = SANDBOX_SCOPE_ALL;
	enum mb_rc rc;

	if (!n)
		return err_set(e, MB_EUSAGE, "--key: empty key");
	for (i = 0; i < n; i++)
		if ((unsigned char)arg[i] <= ' ' || arg[i] == 0x7f)
			return err_set(e, MB_EUSAGE, "--key: white space or "
				       "control character in key (position "
				       "%zu)", i + 1);
	if (eq && (rc = parse_scopes(eq + 1, &scopes, e)) != MB_OK)
		return rc;
	sandbox_key_spec_release(spec);
	spec->key = xstrndup(arg, n);
	spec->scopes = scopes;
	spec->live = !strncmp(arg, "meisa_live_", 11);
	return MB_OK;
}

enum mb_rc sandbox_sequence_parse(const char *arg, char **slug,
				  const char **status, struct err *e)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg), i;

	if (!n)
		return err_set(e, MB_EUSAGE, "--sequence '%s': empty slug",
			       arg);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)arg[i]) && arg[i] != '-' &&
		    arg[i] != '_')
			return err_set(e, MB_EUSAGE, "--sequence '%s': a slug "
				       "has only letters, digits, '-' and "
				       "'_'", arg);
	if (!eq || !strcmp(eq + 1, "active"))
		*status = "active";
	else if (!strcmp(eq + 1, "paused"))
		*status = "paused";
	else
		return err_set(e, MB_EUSAGE, "--sequence '%s': status must be "
			       "'active' or 'paused'", arg);
	*slug = xstrndup(arg, n);
	return MB_OK;
}

char *sandbox_sequence_name(const char *slug)
{
	char *name = xstrdup(slug);
	char *p;

	for (p = name; *p; p++)
		if (*p == '-' || *p == '_')
			*p = ' ';
	name[0] = (char)toupper((unsigned char)name[0]);
	return name;
}

static int parse_seconds(const char *p, const char **end, double *out)
{
	char *stop;

	if (!isdigit((unsigned char)*p) && *p != '.')
		return 0;
	errno = 0;
	*out = strtod(p, &stop);
	*end = stop;
	return !errno && isfinite(*out) && *out >= 0.0 && *out < 1e9;
}

enum mb_rc sandbox_storm_parse(const char *arg, int64_t *start_ms,
			       int64_t *duration_ms, struct err *e)
{
	const char *p;
	double start, duration;

	if (!parse_seconds(arg, &p, &start) || *p != ':' ||
	    !parse_seconds(p + 1, &p, &duration) || *p || duration <= 0.0)
		return err_set(e, MB_EUSAGE, "bad --rate-storm '%s' (expected "
			       "START_S:DURATION_S, e.g. 5:2.5)", arg);
	*start_ms = (int64_t)llround(start * 1000.0);
	*duration_ms = (int64_t)llround(duration * 1000.0);
	return MB_OK;
}

