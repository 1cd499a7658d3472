/*
 * typing: custom-field cells to JSON numbers, booleans, ISO 8601 dates and
 * strings (see typing.h for the rules and why).
 */
#include "typing.h"

#include <string.h>
#include <strings.h>

#include "json.h"

/* Significant digits a double holds exactly (DBL_DIG). */
#define DECIMAL_DIGITS_MAX 15

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int all_digits(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return 0;
	return 1;
}

/* Value of n ASCII digits (the caller checked them). */
static int digits_value(const char *p, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

int typing_is_integer(const char *p, size_t n)
{
	size_t i = 0;
	int neg = 0;

	if (n && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n)
		return 0;
	/* "0" is canonical; "-0" and "007" are not: they would change. */
	if (p[i] == '0')
		return n == i + 1 && !neg;
	if (!all_digits(p + i, n - i) || n - i > 19)
		return 0;
	if (n - i == 19)
		return memcmp(p + i, neg ? "9223372036854775808" :
			      "9223372036854775807", 19) <= 0;
	return 1;
}

int typing_is_decimal(const char *p, size_t n)
{
	size_t i = 0, int_start, dot, significant = 0;
	int leading = 1;

	if (n && p[0] == '-')
		i = 1;
	int_start = i;
	while (i < n && is_digit(p[i]))
		i++;
	dot = i;
	if (dot == int_start || dot >= n || p[dot] != '.' || dot + 1 == n)
		return 0;
	if (p[int_start] == '0' && dot - int_start > 1)
		return 0;
	if (!all_digits(p + dot + 1, n - dot - 1))
		return 0;
	for (i = int_start; i < n; i++) {
		if (i == dot)
			continue;
		if (leading && p[i] == '0')
			continue;
		leading = 0;
		significant++;
	}
	return significant <= DECIMAL_DIGITS_MAX;
}

int typing_is_bool(const char *p, size_t n, int *value)
{
	if (n == 4 && strncasecmp(p, "true", 4) == 0) {
		*value = 1;
		return 1;
	}
	if (n == 5 && strncasecmp(p, "false", 5) == 0) {
		*value = 0;
		return 1;
	}
	return 0;
}

struct datetime {
	int year, month, day;
	int has_time;
	int hour, minute, second;
	const char *frac;        /* digits after the '.', or NULL */
	size_t nfrac;
	char zone[7];            /* "Z" or "+HH:MM"; "" as given */
	int zoneless;            /* the text gave no zone */
};

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

static int datetime_valid(const struct datetime *dt)
{
	if (dt->month < 1 || dt->month > 12)
		return 0;
	if (dt->day < 1 || dt->day > days_in_month(dt->year, dt->month))
		return 0;
	return dt->hour <= 23 && dt->minute <= 59 && dt->second <= 59;
}

/* " UTC", " GMT", "Z", "+02", "+0200", " +02:00": into dt->zone. */
static int parse_zone(const char *p, size_t n, struct datetime *dt)
{
	int hours, minutes = 0;

	dt->zoneless = n == 0;
	if (n == 0 || (n == 1 && p[0] == 'Z') ||
	    (n == 4 && (memcmp(p, " UTC", 4) == 0 ||
			memcmp(p, " GMT", 4) == 0))) {
		strcpy(dt->zone, "Z");
		return 1;
	}
	if (p[0] == ' ') {
		p++;
		n--;
	}
	if (n < 3 || (p[0] != '+' && p[0] != '-') || !all_digits(p + 1, 2))
		return 0;
	hours = digits_value(p + 1, 2);
	if (n == 5 && all_digits(p + 3, 2))
		minutes = digits_value(p + 3, 2);
	else if (n == 6 && p[3] == ':' && all_digits(p + 4, 2))
		minutes = digits_value(p + 4, 2);
	else if (n != 3)
		return 0;
	if (hours > 23 || minutes > 59)
		return 0;
	dt->zone[0] = p[0];
	dt->zone[1] = p[1];
	dt->zone[2] = p[2];
	dt->zone[3] = ':';
	dt->zone[4] = (char)('0' + minutes / 10);
	dt->zone[5] = (char)('0' + minutes % 10);
	dt->zone[6] = '\0';
	return 1;
}

/* "HH:MM[:SS[.fff]]" and a zone, from p[0..n). */
static int parse_time(const char *p, size_t n, struct datetime *dt)
{
	size_t i;

	if (n < 5 || !all_digits(p, 2) || p[2] != ':' || !all_digits(p + 3, 2))
		return 0;
	dt->has_time = 1;
	dt->hour = digits_value(p, 2);
	dt->minute = digits_value(p + 3, 2);
	i = 5;
	if (i + 3 <= n && p[i] == ':' && all_digits(p + i + 1, 2)) {
		dt->second = digits_value(p + i + 1, 2);
		i += 3;
		if (i + 1 < n && p[i] == '.' && is_digit(p[i + 1])) {
			dt->frac = p + ++i;
			while (i < n && is_digit(p[i]) && dt->nfrac < 9) {
				i++;
				dt->nfrac++;
			}
		}
	}
	return parse_zone(p + i, n - i, dt);
}

/* Fill dt from "YYYY-MM-DD" (ymd) or "DD-MM-YYYY" at p; 0 if neither. */
static int parse_date(const char *p, size_t n, int dmy, struct datetime *dt)
{
	if (n < 10)
		return 0;
	if (!dmy && p[4] == '-' && p[7] == '-' && all_digits(p, 4) &&
	    all_digits(p + 5, 2) && all_digits(p + 8, 2)) {
		dt->year = digits_value(p, 4);
		dt->month = digits_value(p + 5, 2);
		dt->day = digits_value(p + 8, 2);
		return 1;
	}
	if (dmy && p[2] == '-' && p[5] == '-' && all_digits(p, 2) &&
	    all_digits(p + 3, 2) && all_digits(p + 6, 4)) {
		dt->day = digits_value(p, 2);
		dt->month = digits_value(p + 3, 2);
		dt->year = digits_value(p + 6, 4);
		return 1;
	}
	return 0;
}

/* Write v as exactly width digits (v fits: checked by the parser). */
static char *put_digits(char *out, int v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return out + width;
}

/* snprintf would be a third of the cost of a date cell: done by hand. */
static size_t datetime_format(const struct datetime *dt, char *iso)
{
	char *p = iso;

	p = put_digits(p, dt->year, 4);
	*p++ = '-';
	p = put_digits(p, dt->month, 2);
	*p++ = '-';
	p = put_digits(p, dt->day, 2);
	if (dt->has_time) {
		*p++ = 'T';
		p = put_digits(p, dt->hour, 2);
		*p++ = ':';
		p = put_digits(p, dt->minute, 2);
		*p++ = ':';
		p = put_digits(p, dt->second, 2);
		if (dt->frac) {
			*p++ = '.';
			memcpy(p, dt->frac, dt->nfrac);
			p += dt->nfrac;
		}
		memcpy(p, dt->zone, strlen(dt->zone));
		p += strlen(dt->zone);
	}
	*p = '\0';
	return (size_t)(p - iso);
}

size_t typing_date(const char *p, size_t n, unsigned flags, char *iso)
{
	struct datetime dt;
	int dmy;

	memset(&dt, 0, sizeof(dt));
	/*
	 * Try the Brevo order first when asked: a DD-MM-YYYY value can never
	 * look like YYYY-MM-DD, so both can be accepted in one preset.
	 */
	dmy = (flags & TYPING_DMY_DATES) && parse_date(p, n, 1, &dt);
	if (!dmy && !parse_date(p, n, 0, &dt))
		return 0;
	if (n == 10) {
		/* "YYYY-MM-DD" is ISO 8601 already: nothing to convert. */
		if (!dmy)
			return 0;
	} else if (p[10] != ' ' || !parse_time(p + 11, n - 11, &dt)) {
		return 0;
	}
	if (!datetime_valid(&dt))
		return 0;
	if ((flags & TYPING_ZONE_AS_GIVEN) && dt.zoneless)
		dt.zone[0] = '\0';
	return datetime_format(&dt, iso);
}

/* The value itself; typing_add_value undoes a partial append. */
static enum mb_rc add_value(struct buf *out, const char *p, size_t n,
			    unsigned flags)
{
	char quoted[TYPING_ISO_MAX + 2];
	size_t len;
	int value;

	if (is_digit(p[0]) || p[0] == '-') {
		if (typing_is_integer(p, n) || typing_is_decimal(p, n))
			return buf_add(out, p, n);
		if (n >= 10 && (len = typing_date(p, n, flags, quoted + 1))) {
			quoted[0] = '"';
			quoted[len + 1] = '"';
			return buf_add(out, quoted, len + 2);
		}
	} else if (typing_is_bool(p, n, &value)) {
		return buf_addstr(out, value ? "true" : "false");
	}
	return json_add_string(out, p, n);
}

enum mb_rc typing_add_value(struct buf *out, const char *p, size_t n,
			    unsigned flags)
{
	size_t len = out->len;
	enum mb_rc rc = add_value(out, p, n, flags);

	if (rc != MB_OK && out->data) {
		out->len = len;
		out->data[len] = '\0';
	}
	return rc;
}
