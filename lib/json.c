/*
 * json: JSON string literals, escaped exactly as SQLite's json_quote()
 * escapes them, so text built here and text built by SQLite's JSON
 * functions compare equal byte for byte.
 */
#include "json.h"

static int needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

static enum mb_rc add_escape(struct buf *out, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };
	char e[2] = { '\\', 0 };

	switch (c) {
	case '"':  e[1] = '"'; break;
	case '\\': e[1] = '\\'; break;
	case '\b': e[1] = 'b'; break;
	case '\f': e[1] = 'f'; break;
	case '\n': e[1] = 'n'; break;
	case '\r': e[1] = 'r'; break;
	case '\t': e[1] = 't'; break;
	default:   return buf_add(out, u, sizeof(u));
	}
	return buf_add(out, e, sizeof(e));
}

/*
 * Runs of bytes that need no escape (all of UTF-8 past ASCII among them)
 * are copied in one buf_add, so a typical cell costs three appends.
 */
static enum mb_rc add_body(struct buf *out, const unsigned char *s, size_t n)
{
	enum mb_rc rc = MB_OK;
	size_t i = 0, run;

	while (i < n && rc == MB_OK) {
		run = i;
		while (i < n && !needs_escape(s[i]))
			i++;
		rc = buf_add(out, s + run, i - run);
		if (rc == MB_OK && i < n)
			rc = add_escape(out, s[i++]);
	}
	return rc;
}

enum mb_rc json_add_string(struct buf *out, const char *p, size_t n)
{
	size_t old_len = out->len;
	enum mb_rc rc;

	/* The literal is at least n + 2 bytes: one growth for most cells. */
	rc = n < out->max ? buf_grow(out, n + 2) : MB_ETOOBIG;
	if (rc == MB_OK)
		rc = buf_addch(out, '"');
	if (rc == MB_OK)
		rc = add_body(out, (const unsigned char *)p, n);
	if (rc == MB_OK)
		rc = buf_addch(out, '"');
	if (rc != MB_OK && out->data) {
		out->len = old_len;
		out->data[old_len] = '\0';
	}
	return rc;
}
