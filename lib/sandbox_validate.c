/*
 * sandbox_validate: UTF-8, email and query string checks (see the header).
 */
#include "sandbox_validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int sandbox_utf8_ok(const char *p, size_t n)
{
	return utf8_valid(p, n, 0);
}

void sandbox_utf8_lossy(struct buf *out, const char *p, size_t n)
{
	size_t ok;

	for (;;) {
		ok = utf8_valid_len(p, n, 0);
		buf_add(out, p, ok);
		if (ok == n)
			return;
		buf_addstr(out, "\xef\xbf\xbd");
		p += ok + 1;
		n -= ok + 1;
	}
}

/* Characters of a dot-atom local part besides letters and digits. */
static int atext(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int local_part_ok(const char *p, size_t n)
{
	size_t i;
	int after_dot = 1;
	unsigned char c;

	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		/* Quoted string: printable ASCII, \ escapes, no bare " or \. */
		for (i = 1; i < n - 1; i++) {
			c = (unsigned char)p[i];
			if (c == '\\') {
				if (++i == n - 1)
					return 0;
				c = (unsigned char)p[i];
				if (!c || c == '\n' || c == '\r' || c > 0x7f)
					return 0;
			} else if (!c || c == '\t' || c == '\n' || c == '\r' ||
				   c == '"' || c > 0x7f) {
				return 0;
			}
		}
		return 1;
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '.') {
			if (after_dot)
				return 0;
			after_dot = 1;
		} else if (atext(c)) {
			after_dot = 0;
		} else {
			return 0;
		}
	}
	return n > 0 && !after_dot;
}

/* A byte of a domain label: ASCII letter, digit, or UTF-8 (IDNA). */
static int label_char(unsigned char c)
{
	return isalnum(c) || c >= 0x80;
}

static int literal_ok(const char *p, size_t n)
{
	char addr[64];
	unsigned char bin[16];

	if (n < 3 || p[n - 1] != ']' || n - 2 >= sizeof(addr))
		return 0;
	memcpy(addr, p + 1, n - 2);
	addr[n - 2] = '\0';
	if (!strncasecmp(addr, "IPv6:", 5))
		return inet_pton(AF_INET6, addr + 5, bin) == 1;
	return inet_pton(AF_INET, addr, bin) == 1;
}

/*
 * Django's domain_regex: one or more labels "[a-z0-9]([a-z0-9-]{0,61}
 * [a-z0-9])?" each followed by a dot, then a last label of 2 to 63
 * characters from [a-z0-9-] not ending in '-'.
 */
static int domain_ok(const char *p, size_t n)
{
	size_t start = 0, i, len, labels = 0;

	if (n == 9 && !strncasecmp(p, "localhost", 9))
		return 1;
	if (n && p[0] == '[')
		return literal_ok(p, n);
	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != '.')
			continue;
		len = i - start;
		if (i == n) {
			/* the last label */
			if (!labels || len < 2 || len > 63 || p[i - 1] == '-')
				return 0;
		} else if (!len || len > 63 ||
			   !label_char((unsigned char)p[start]) ||
			   !label_char((unsigned char)p[i - 1])) {
			return 0;
		}
		for (; start < i; start++)
			if (!label_char((unsigned char)p[start]) &&
			    p[start] != '-')
				return 0;
		start = i + 1;
		labels++;
	}
	return 1;
}

int sandbox_email_ok(const char *p, size_t n)
{
	const char *at;

	if (!n || n > 320 || memchr(p, '\0', n) || !sandbox_utf8_ok(p, n))
		return 0;
	at = memrchr(p, '@', n);
	if (!at)
		return 0;
	return local_part_ok(p, (size_t)(at - p)) &&
		domain_ok(at + 1, n - (size_t)(at - p) - 1);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void query_decode(struct buf *out, const char *p, size_t n)
{
	size_t i;
	int hi, lo;

	buf_reset(out);
	for (i = 0; i < n; i++) {
		if (p[i] == '+') {
			buf_addch(out, ' ');
		} else if (p[i] == '%' && i + 2 < n &&
			   (hi = hexval(p[i + 1])) >= 0 &&
			   (lo = hexval(p[i + 2])) >= 0) {
			buf_addch(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			buf_addch(out, p[i]);
		}
	}
}

int sandbox_query_get(const char *query, const char *name,
		      struct buf *out)
{
	struct buf key = BUF_INIT;
	const char *p = query, *amp, *eq;
	int found = 0;

	while (p && *p) {
		amp = strchr(p, '&');
		if (!amp)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		query_decode(&key, p, (size_t)((eq ? eq : amp) - p));
		if (!strcmp(buf_str(&key), name)) {
			/* Django's QueryDict.get() returns the last value. */
			if (eq)
				query_decode(out, eq + 1,
					     (size_t)(amp - eq - 1));
			else
				buf_reset(out);
			found = 1;
		}
		p = *amp ? amp + 1 : NULL;
	}
	buf_release(&key);
	return found;
}

