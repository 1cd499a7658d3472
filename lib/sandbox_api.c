/*
 * sandbox_api: Meisa's endpoints for meisa-sandbox (see the header).
 *
 * Bodies are parsed by SQLite's JSON functions (json_type, json_each) into
 * a small table of fields per endpoint, then checked field by field the way
 * Django REST Framework serializers do, collecting one message per field.
 */
#include "sandbox_api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"
#include "xalloc.h"

#define MAX_BULK_EMAILS 500
#define MAX_NAME_CHARS 255
#define MAX_EMAIL_CHARS 254
#define MAX_TAG_CHARS 100
#define ID_MAX 64

/* Statement slots of this module (see sandbox_store_stmt). */
enum {
	S_JSON_TYPE, S_JSON_EACH, S_COUNT_NESTED,
	S_FIND_EXT, S_FIND_EMAIL, S_FIND_ID, S_IS_UNSUB,
	S_INSERT_CONTACT, S_UPDATE_CONTACT, S_TOUCH_CONTACT, S_CONTACT_JSON,
	S_TAG_ENSURE, S_TAG_LINK, S_TAG_UNLINK, S_TAG_BY_ID,
	S_AUTOMATION, S_UNSUB_LIST, S_EVENT,
	S_SEQUENCE, S_ENROLL_STATUS, S_ENROLL_PUT, S_SEQUENCE_LIST,
	S_ENROLLMENTS_OF, S_TRIGGER_KNOWN, S_IDEMPOTENT, S_SENT_EMAIL,
	S_COUNT
};

static const char *const scope_names[] = {
	"contacts:read", "contacts:write", "events:track", "sequences:read",
	"sequences:enroll", "emails:trigger", "tags:write",
};

#define NSCOPES (sizeof(scope_names) / sizeof(scope_names[0]))

const char *sandbox_scope_name(unsigned scope)
{
	size_t i;

	for (i = 0; i < NSCOPES; i++)
		if (scope == 1u << i)
			return scope_names[i];
	return NULL;
}

unsigned sandbox_scope_lookup(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < NSCOPES; i++)
		if (strlen(scope_names[i]) == n &&
		    !memcmp(scope_names[i], p, n))
			return 1u << i;
	return 0;
}

/* ---- JSON writing ------------------------------------------------------- */

/*
 * Append a JSON string literal of p[0..n).  Bytes that are not UTF-8 (from
 * a URL, a header, a query string) become U+FFFD: an answer is always
 * valid JSON text.  Answers are built in buffers with the default cap
 * (64 MiB): a full unsubscribed list of a million addresses still fits and
 * nothing else comes close, so appends are not checked one by one.
 */
static void json_add(struct buf *out, const char *p, size_t n)
{
	struct buf clean = BUF_INIT;

	if (sandbox_api_utf8_ok(p, n)) {
		json_add_string(out, p, n);
		return;
	}
	sandbox_api_utf8_lossy(&clean, p, n);
	json_add_string(out, buf_str(&clean), clean.len);
	buf_release(&clean);
}

static void json_str(struct buf *out, const char *s)
{
	json_add(out, s, strlen(s));
}

void sandbox_api_detail(struct buf *out, const char *detail)
{
	buf_reset(out);
	buf_addstr(out, "{\"detail\":");
	json_str(out, detail);
	buf_addch(out, '}');
}

static void answer_detail(struct sandbox_call *call, int status,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void answer_detail(struct sandbox_call *call, int status,
			  const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call->status = status;
	sandbox_api_detail(&call->response, msg);
}

/*
 * Field errors, DRF style: {"field": ["message"], ...}.  One message per
 * field is enough for a client, which shows the body as it is.
 */
struct field_errors {
	struct buf json;         /* "field":["msg"],... without the braces */
	int count;
};

#define FIELD_ERRORS_INIT { BUF_INIT, 0 }

static void fe_add(struct field_errors *fe, const char *field,
		   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fe_add(struct field_errors *fe, const char *field,
		   const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fe->count++)
		buf_addch(&fe->json, ',');
	json_str(&fe->json, field);
	buf_addstr(&fe->json, ":[");
	json_str(&fe->json, msg);
	buf_addch(&fe->json, ']');
}

/* Answer 400 with the collected errors; 1 if there were any. */
static int fe_answer(struct field_errors *fe, struct sandbox_call *call)
{
	int any = fe->count > 0;

	if (any) {
		call->status = 400;
		buf_reset(&call->response);
		buf_addch(&call->response, '{');
		buf_add(&call->response, fe->json.data, fe->json.len);
		buf_addch(&call->response, '}');
	}
	buf_release(&fe->json);
	fe->count = 0;
	return any;
}

/* ISO 8601 UTC with milliseconds, as Meisa's timestamps. */
static void iso_time(double t, char out[32])
{
	time_t secs = (time_t)t;
	unsigned ms = (unsigned)((t - (double)secs) * 1000.0) % 1000;
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	out[n++] = '.';
	out[n++] = (char)('0' + ms / 100);
	out[n++] = (char)('0' + ms / 10 % 10);
	out[n++] = (char)('0' + ms % 10);
	out[n++] = 'Z';
	out[n] = '\0';
}

/* ---- validation helpers ------------------------------------------------- */

/* The length of the longest well-formed UTF-8 prefix of p[0..n). */
static size_t utf8_valid_len(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	const unsigned char *end = s + n, *start;
	unsigned c, need, min, cp, i;

	while (s < end) {
		start = s;
		c = *s++;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1; min = 0x80; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2; min = 0x800; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3; min = 0x10000; cp = c & 0x07;
		} else {
			return (size_t)(start - (const unsigned char *)p);
		}
		if ((size_t)(end - s) < need)
			return (size_t)(start - (const unsigned char *)p);
		for (i = 0; i < need; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return (size_t)(start - (const unsigned char *)p);
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (size_t)(start - (const unsigned char *)p);
		s += need;
	}
	return n;
}

int sandbox_api_utf8_ok(const char *p, size_t n)
{
	return utf8_valid_len(p, n) == n;
}

void sandbox_api_utf8_lossy(struct buf *out, const char *p, size_t n)
{
	size_t ok;

	for (;;) {
		ok = utf8_valid_len(p, n);
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

int sandbox_api_email_ok(const char *p, size_t n)
{
	const char *at;

	if (!n || n > 320 || memchr(p, '\0', n) || !sandbox_api_utf8_ok(p, n))
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

int sandbox_api_query_get(const char *query, const char *name,
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

/* ---- statements --------------------------------------------------------- */

static const char *const SQL[S_COUNT] = {
	[S_JSON_TYPE] = "SELECT json_type(?1)",
	[S_JSON_EACH] = "SELECT key, type, value FROM json_each(?1)",
	[S_COUNT_NESTED] = "SELECT count(*) FROM json_each(?1)"
		" WHERE type IN ('object', 'array')",
	[S_FIND_EXT] = "SELECT id, email, status FROM contacts"
		" WHERE external_id = ?1",
	[S_FIND_EMAIL] = "SELECT id, email, status FROM contacts"
		" WHERE email = ?1",
	[S_FIND_ID] = "SELECT id, email, status FROM contacts WHERE id = ?1",
	[S_IS_UNSUB] = "SELECT 1 FROM unsubscribed WHERE email = ?1",
	[S_INSERT_CONTACT] = "INSERT INTO contacts(id, email, external_id,"
		" first_name, last_name, display_name, custom_fields, source,"
		" status, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5,"
		" ?6, json_patch('{}', coalesce(?7, '{}')), ?8, ?9, ?10, ?10)",
	/* Only a real change counts as an update (and fires
	 * contact_updated): re-sending the same body changes nothing. */
	[S_UPDATE_CONTACT] = "UPDATE contacts SET email = ?2,"
		" external_id = coalesce(?3, external_id),"
		" first_name = coalesce(?4, first_name),"
		" last_name = coalesce(?5, last_name),"
		" display_name = coalesce(?6, display_name),"
		" custom_fields = json_patch(custom_fields,"
		"  coalesce(?7, '{}')),"
		" updated_at = ?8"
		" WHERE id = ?1 AND (email IS NOT ?2"
		" OR external_id IS NOT coalesce(?3, external_id)"
		" OR first_name IS NOT coalesce(?4, first_name)"
		" OR last_name IS NOT coalesce(?5, last_name)"
		" OR display_name IS NOT coalesce(?6, display_name)"
		" OR custom_fields IS NOT"
		"  json_patch(custom_fields, coalesce(?7, '{}')))",
	[S_TOUCH_CONTACT] = "UPDATE contacts SET updated_at = ?2"
		" WHERE id = ?1",
	[S_CONTACT_JSON] = "SELECT json_object('id', c.id, 'email', c.email,"
		" 'external_id', c.external_id, 'first_name', c.first_name,"
		" 'last_name', c.last_name, 'display_name', c.display_name,"
		" 'custom_fields', json(c.custom_fields),"
		" 'tags', json((SELECT json_group_array(json_object('id', t.id,"
		"   'name', t.name)) FROM contact_tags ct"
		"   JOIN tags t ON t.name = ct.name"
		"   WHERE ct.contact_id = c.id)),"
		" 'source', c.source, 'status', c.status,"
		" 'created_at', c.created_at, 'updated_at', c.updated_at)"
		" FROM contacts c WHERE c.id = ?1",
	[S_TAG_ENSURE] = "INSERT INTO tags(id, name) VALUES(uuid4(), ?1)"
		" ON CONFLICT(name) DO NOTHING",
	[S_TAG_LINK] = "INSERT OR IGNORE INTO contact_tags(contact_id, name)"
		" VALUES(?1, ?2)",
	[S_TAG_UNLINK] = "DELETE FROM contact_tags"
		" WHERE contact_id = ?1 AND name = ?2",
	[S_TAG_BY_ID] = "SELECT name FROM tags WHERE id = ?1",
	[S_AUTOMATION] = "INSERT INTO automations(kind, contact_id, email,"
		" detail, created_at) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_UNSUB_LIST] = "SELECT email FROM unsubscribed UNION"
		" SELECT email FROM contacts WHERE status <> 'active'"
		" ORDER BY 1",
	[S_EVENT] = "INSERT INTO events(contact_id, event_name, properties,"
		" created_at) VALUES(?1, ?2, coalesce(?3, '{}'), ?4)",
	[S_SEQUENCE] = "SELECT status FROM sequences WHERE slug = ?1",
	[S_ENROLL_STATUS] = "SELECT status FROM enrollments"
		" WHERE email = ?1 AND sequence_slug = ?2",
	[S_ENROLL_PUT] = "INSERT INTO enrollments(email, sequence_slug,"
		" status, created_at, contact_id, trigger_source, metadata)"
		" VALUES(?1, ?2, 'active', ?3, ?4, ?5, ?6)"
		" ON CONFLICT(email, sequence_slug) DO UPDATE SET"
		" status = 'active', created_at = excluded.created_at,"
		" contact_id = excluded.contact_id,"
		" trigger_source = excluded.trigger_source,"
		" metadata = excluded.metadata",
	[S_SEQUENCE_LIST] = "SELECT slug, name, status FROM sequences"
		" WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL"
		" OR instr(lower(slug), lower(?2)) OR instr(lower(name),"
		" lower(?2))) ORDER BY slug",
	[S_ENROLLMENTS_OF] = "SELECT sequence_slug, status FROM enrollments"
		" WHERE email = ?1 ORDER BY created_at, sequence_slug",
	[S_TRIGGER_KNOWN] = "SELECT 1 FROM email_triggers WHERE key = ?1",
	[S_IDEMPOTENT] = "SELECT id FROM sent_emails"
		" WHERE idempotency_key = ?1 AND key_label IS ?2 AND ts > ?3"
		" ORDER BY ts DESC LIMIT 1",
	[S_SENT_EMAIL] = "INSERT INTO sent_emails(id, trigger_key, to_email,"
		" idempotency_key, key_label, status, variables, created_at,"
		" ts)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
};

static sqlite3_stmt *stmt(struct sandbox_store *st, int slot, struct err *e)
{
	return sandbox_store_stmt(st, slot, SQL[slot], e);
}

/* Step a statement: 1 a row, 0 done, -1 failure (e filled). */
static int step(struct sandbox_store *st, sqlite3_stmt *s, struct err *e)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	sandbox_store_fail(st, e, "database error");
	return -1;
}

/* Run a writing statement to its end. */
static enum mb_rc exec(struct sandbox_store *st, sqlite3_stmt *s,
		       struct err *e)
{
	int r = step(st, s, e);

	sqlite3_reset(s);
	return r < 0 ? MB_EDB : MB_OK;
}

static void bind_str(sqlite3_stmt *s, int i, const char *p)
{
	sqlite3_bind_text(s, i, p, -1, SQLITE_STATIC);
}

/* Copy a text column into a fixed buffer (identifiers, statuses). */
static void col_copy(sqlite3_stmt *s, int i, char *out, size_t size)
{
	const char *p = (const char *)sqlite3_column_text(s, i);

	snprintf(out, size, "%s", p ? p : "");
}

/* ---- request bodies ----------------------------------------------------- */

enum jtype {
	J_ABSENT, J_NULL, J_TRUE, J_FALSE, J_INT, J_REAL, J_TEXT, J_ARRAY,
	J_OBJECT
};

struct field {
	const char *name;
	enum jtype type;
	char *val;               /* decoded text, number text or JSON text */
	size_t len;
};

static enum jtype jtype_of(const char *t)
{
	static const char *const names[] = {
		"", "null", "true", "false", "integer", "real", "text",
		"array", "object",
	};
	size_t i;

	for (i = 1; t && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(t, names[i]))
			return (enum jtype)i;
	return J_ABSENT;
}

/* The Python type name DRF puts in its messages. */
static const char *py_type(enum jtype t)
{
	switch (t) {
	case J_NULL: return "NoneType";
	case J_TRUE: case J_FALSE: return "bool";
	case J_INT: return "int";
	case J_REAL: return "float";
	case J_TEXT: return "str";
	case J_ARRAY: return "list";
	case J_OBJECT: return "dict";
	case J_ABSENT: break;
	}
	return "NoneType";
}

static void fields_release(struct field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].val);
		f[i].val = NULL;
		f[i].type = J_ABSENT;
	}
}

static struct field *field_named(struct field *f, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(f[i].name, name))
			return &f[i];
	return NULL;
}

/* The JSON type of the text p (1 ok, 0 malformed, -1 failure). */
static int json_type(struct sandbox_store *st, const char *p, size_t n,
		     enum jtype *type, struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_JSON_TYPE, e);
	int r;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, p, (int)n, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*type = jtype_of((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (r == SQLITE_ROW)
		return 1;
	/* SQLite reports malformed JSON as a plain SQL error. */
	return r == SQLITE_ERROR ? 0 : -1;
}

/*
 * 1 when a JSON text has a \u0000 escape.  SQLite's JSON functions cut a
 * decoded string at such a NUL, so it must be caught on the raw text; as a
 * backslash can only occur inside a string, no string tracking is needed.
 */
static int has_nul_escape(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (p[i] != '\\')
			continue;
		if (p[i + 1] == 'u' && i + 5 < n &&
		    !memcmp(p + i + 2, "0000", 4))
			return 1;
		i++;
	}
	return 0;
}

/*
 * Parse the body as a JSON object into fields[] (absent ones stay J_ABSENT;
 * unknown keys are ignored and, as in Python, the last of duplicated keys
 * wins).  An empty body is an empty object, as DRF reads it.  Returns 1 when
 * the fields are ready, 0 when the call was answered 400, -1 on failure.
 */
static int parse_body(struct sandbox_store *st, struct sandbox_call *call,
		      struct field *fields, size_t n, struct err *e)
{
	struct field *f;
	sqlite3_stmt *s;
	enum jtype type = J_OBJECT;
	size_t i;
	int r, bad_text = 0;

	for (i = 0; i < call->body_len; i++)
		if (!isspace((unsigned char)call->body[i]))
			break;
	if (i == call->body_len)
		return 1;
	r = json_type(st, call->body, call->body_len, &type, e);
	if (r <= 0) {
		if (r == 0)
			answer_detail(call, 400, "JSON parse error - "
				      "malformed JSON");
		return r;
	}
	if (type == J_OBJECT && has_nul_escape(call->body, call->body_len)) {
		call->status = 400;
		buf_reset(&call->response);
		buf_addstr(&call->response, "{\"non_field_errors\":"
			   "[\"Null characters are not allowed.\"]}");
		return 0;
	}
	if (type != J_OBJECT) {
		call->status = 400;
		buf_reset(&call->response);
		buf_printf(&call->response, "{\"non_field_errors\":"
			   "[\"Invalid data. Expected a dictionary, but got "
			   "%s.\"]}", py_type(type));
		return 0;
	}
	if (!(s = stmt(st, S_JSON_EACH, e)))
		return -1;
	sqlite3_bind_text(s, 1, call->body, (int)call->body_len,
			  SQLITE_STATIC);
	while ((r = step(st, s, e)) == 1) {
		f = field_named(fields, n,
				(const char *)sqlite3_column_text(s, 0));
		if (!f)
			continue;
		free(f->val);
		f->type = jtype_of((const char *)sqlite3_column_text(s, 1));
		f->val = NULL;
		f->len = 0;
		if (f->type == J_NULL)
			continue;
		f->len = (size_t)sqlite3_column_bytes(s, 2);
		f->val = xmalloc(f->len + 1);
		if (f->len)
			memcpy(f->val, sqlite3_column_blob(s, 2), f->len);
		f->val[f->len] = '\0';
		/* SQLite decodes a lone surrogate escape (\ud800) into bytes
		 * that are not UTF-8; they must not reach the database. */
		if (f->type == J_TEXT && !sandbox_api_utf8_ok(f->val, f->len))
			bad_text = 1;
	}
	sqlite3_reset(s);
	if (r < 0)
		return -1;
	if (bad_text) {
		answer_detail(call, 400, "JSON parse error - a string has a "
			      "lone surrogate escape");
		return 0;
	}
	return 1;
}

/* Python's str.strip() for ASCII white space, in place. */
static void trim(struct field *f)
{
	size_t start = 0;

	while (f->len && isspace((unsigned char)f->val[f->len - 1]))
		f->len--;
	while (start < f->len && isspace((unsigned char)f->val[start]))
		start++;
	memmove(f->val, f->val + start, f->len - start);
	f->len -= start;
	f->val[f->len] = '\0';
}

static size_t utf8_chars(const char *p, size_t n)
{
	size_t i, chars = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			chars++;
	return chars;
}

enum { OPTIONAL = 0, REQUIRED = 1 };
enum { NO_BLANK = 0, BLANK_OK = 1 };

/*
 * A DRF CharField: strings, and numbers taken as their text; trimmed.
 * Returns 1 with a usable value in f->val, 0 when absent or null (and not
 * required), -1 after adding an error.
 */
static int check_string(struct field_errors *fe, struct field *f,
			int required, int blank_ok, size_t max_chars)
{
	switch (f->type) {
	case J_ABSENT:
		if (required)
			fe_add(fe, f->name, "This field is required.");
		return required ? -1 : 0;
	case J_NULL:
		if (required)
			fe_add(fe, f->name, "This field may not be null.");
		return required ? -1 : 0;
	case J_TEXT: case J_INT: case J_REAL:
		break;
	default:
		fe_add(fe, f->name, "Not a valid string.");
		return -1;
	}
	if (memchr(f->val, '\0', f->len)) {
		fe_add(fe, f->name, "Null characters are not allowed.");
		return -1;
	}
	trim(f);
	if (!f->len && !blank_ok) {
		fe_add(fe, f->name, "This field may not be blank.");
		return -1;
	}
	if (utf8_chars(f->val, f->len) > max_chars) {
		fe_add(fe, f->name, "Ensure this field has no more than %zu "
		       "characters.", max_chars);
		return -1;
	}
	return 1;
}

/* An EmailField: a string, then Django's validator; stored lower case. */
static int check_email(struct field_errors *fe, struct field *f,
		       int required)
{
	int r = check_string(fe, f, required, NO_BLANK, MAX_EMAIL_CHARS);
	size_t i;

	if (r <= 0)
		return r;
	if (!sandbox_api_email_ok(f->val, f->len)) {
		fe_add(fe, f->name, "Enter a valid email address.");
		return -1;
	}
	for (i = 0; i < f->len; i++)
		f->val[i] = (char)tolower((unsigned char)f->val[i]);
	return 1;
}

/* A DictField (or null): 1 an object, 0 absent or null, -1 error. */
static int check_object(struct field_errors *fe, struct field *f)
{
	if (f->type == J_ABSENT || f->type == J_NULL)
		return 0;
	if (f->type == J_OBJECT)
		return 1;
	fe_add(fe, f->name, "Expected a dictionary of items but got type "
	       "\"%s\".", py_type(f->type));
	return -1;
}

/* A BooleanField, with DRF's accepted spellings; absent is false. */
static int check_bool(struct field_errors *fe, struct field *f, int *out)
{
	static const char *const yes[] = { "true", "True", "1", "yes", "on" };
	static const char *const no[] = { "false", "False", "0", "no", "off" };
	size_t i;

	*out = 0;
	if (f->type == J_ABSENT || f->type == J_FALSE)
		return 0;
	if (f->type == J_TRUE) {
		*out = 1;
		return 0;
	}
	if (f->type == J_TEXT || f->type == J_INT) {
		for (i = 0; i < 5; i++) {
			if (!strcmp(f->val, yes[i])) {
				*out = 1;
				return 0;
			}
			if (!strcmp(f->val, no[i]))
				return 0;
		}
	}
	fe_add(fe, f->name, "Must be a valid boolean.");
	return -1;
}

/* Start the log's emails array with one address (as the client sent it). */
static void log_email(struct sandbox_call *call, const struct field *f)
{
	buf_reset(&call->emails);
	if (f->type != J_TEXT)
		return;
	buf_addch(&call->emails, '[');
	json_add(&call->emails, f->val, f->len);
	buf_addch(&call->emails, ']');
}

/* ---- contacts ----------------------------------------------------------- */

struct contact_ref {
	char id[ID_MAX];
	char email[MAX_EMAIL_CHARS * 4 + 1];
	char status[16];
};

/* Look a contact up by one column: 1 found, 0 not, -1 failure. */
static int find_contact(struct sandbox_store *st, int slot, const char *key,
			size_t key_len, struct contact_ref *c, struct err *e)
{
	sqlite3_stmt *s = stmt(st, slot, e);
	int r;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, key, (int)key_len, SQLITE_STATIC);
	r = step(st, s, e);
	if (r == 1) {
		col_copy(s, 0, c->id, sizeof(c->id));
		col_copy(s, 1, c->email, sizeof(c->email));
		col_copy(s, 2, c->status, sizeof(c->status));
	}
	sqlite3_reset(s);
	return r;
}

/* 1 when email is on the unsubscribed list, 0 not, -1 failure. */
/* Prepared statement which has a row for value: 1 yes, 0 no, -1 failure. */
static int exists_by(struct sandbox_store *st, int which, const char *value,
		     struct err *e)
{
	sqlite3_stmt *s = stmt(st, which, e);
	int r;

	if (!s)
		return -1;
	bind_str(s, 1, value);
	r = step(st, s, e);
	sqlite3_reset(s);
	return r;
}

static int on_unsub_list(struct sandbox_store *st, const char *email,
			 struct err *e)
{
	return exists_by(st, S_IS_UNSUB, email, e);
}

static enum mb_rc automation(struct sandbox_store *st, const char *kind,
			     const char *contact_id, const char *email,
			     const char *detail, const char *now,
			     struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_AUTOMATION, e);

	if (!s)
		return MB_EDB;
	bind_str(s, 1, kind);
	bind_str(s, 2, contact_id);
	bind_str(s, 3, email);
	bind_str(s, 4, detail);
	bind_str(s, 5, now);
	return exec(st, s, e);
}

/* The values an upsert (or an implicit creation) writes. */
struct contact_in {
	const char *email;
	const char *external_id;
	const char *first_name, *last_name, *display_name;
	const char *custom_fields;   /* JSON object text */
	const char *source;
};

#define CONTACT_IN_INIT { NULL, NULL, NULL, NULL, NULL, NULL, "api" }

/* Create a contact; an address on the unsubscribed list stays so. */
static enum mb_rc create_contact(struct sandbox_store *st,
				 const struct contact_in *in,
				 const char *now, struct contact_ref *c,
				 struct err *e)
{
	sqlite3_stmt *s;
	int unsub = on_unsub_list(st, in->email, e);

	if (unsub < 0 || !(s = stmt(st, S_INSERT_CONTACT, e)))
		return MB_EDB;
	sandbox_store_uuid(st, c->id);
	snprintf(c->email, sizeof(c->email), "%s", in->email);
	snprintf(c->status, sizeof(c->status), "%s",
		 unsub ? "unsubscribed" : "active");
	bind_str(s, 1, c->id);
	bind_str(s, 2, in->email);
	bind_str(s, 3, in->external_id);
	bind_str(s, 4, in->first_name);
	bind_str(s, 5, in->last_name);
	bind_str(s, 6, in->display_name);
	bind_str(s, 7, in->custom_fields);
	bind_str(s, 8, in->source);
	bind_str(s, 9, c->status);
	bind_str(s, 10, now);
	if (exec(st, s, e) != MB_OK)
		return MB_EDB;
	return automation(st, "contact_created", c->id, in->email, NULL, now,
			  e);
}

/* Apply an upsert to an existing contact; *changed tells if it did. */
static enum mb_rc update_contact(struct sandbox_store *st,
				 const struct contact_in *in,
				 const char *now, struct contact_ref *c,
				 int *changed, struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_UPDATE_CONTACT, e);

	if (!s)
		return MB_EDB;
	bind_str(s, 1, c->id);
	bind_str(s, 2, in->email);
	bind_str(s, 3, in->external_id);
	bind_str(s, 4, in->first_name);
	bind_str(s, 5, in->last_name);
	bind_str(s, 6, in->display_name);
	bind_str(s, 7, in->custom_fields);
	bind_str(s, 8, now);
	if (exec(st, s, e) != MB_OK)
		return MB_EDB;
	*changed = sqlite3_changes(st->db) > 0;
	snprintf(c->email, sizeof(c->email), "%s", in->email);
	if (!*changed)
		return MB_OK;
	return automation(st, "contact_updated", c->id, in->email, NULL, now,
			  e);
}

/* Add a tag (created when missing); *added is 1 if it was new to c. */
static enum mb_rc add_tag(struct sandbox_store *st, struct contact_ref *c,
			  const char *name, const char *now, int *added,
			  struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_TAG_ENSURE, e);

	if (!s)
		return MB_EDB;
	bind_str(s, 1, name);
	if (exec(st, s, e) != MB_OK || !(s = stmt(st, S_TAG_LINK, e)))
		return MB_EDB;
	bind_str(s, 1, c->id);
	bind_str(s, 2, name);
	if (exec(st, s, e) != MB_OK)
		return MB_EDB;
	*added = sqlite3_changes(st->db) > 0;
	if (!*added)
		return MB_OK;
	return automation(st, "tag_added", c->id, c->email, name, now, e);
}

static enum mb_rc touch_contact(struct sandbox_store *st,
				const struct contact_ref *c, const char *now,
				struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_TOUCH_CONTACT, e);

	if (!s)
		return MB_EDB;
	bind_str(s, 1, c->id);
	bind_str(s, 2, now);
	return exec(st, s, e);
}

/* Answer status with the full contact, as upsert returns it. */
static enum mb_rc answer_contact(struct sandbox_store *st,
				 struct sandbox_call *call, int status,
				 const char *id, struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_CONTACT_JSON, e);
	int r;

	if (!s)
		return MB_EDB;
	bind_str(s, 1, id);
	r = step(st, s, e);
	if (r == 1) {
		call->status = status;
		buf_set(&call->response, sqlite3_column_text(s, 0),
			(size_t)sqlite3_column_bytes(s, 0));
	}
	sqlite3_reset(s);
	if (r == 0)
		return err_set(e, MB_EINTERNAL, "contact '%s' vanished", id);
	return r < 0 ? MB_EDB : MB_OK;
}

/* Validated tag names of an upsert. */
struct tag_list {
	char **names;
	size_t count;
};

static void tag_list_release(struct tag_list *t)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		free(t->names[i]);
	free(t->names);
	t->names = NULL;
	t->count = 0;
}

/* tag_names: a list of non-blank strings (or null). */
static int check_tags(struct sandbox_store *st, struct field_errors *fe,
		      struct field *f, struct tag_list *out, struct err *e)
{
	sqlite3_stmt *s;
	const char *v;
	size_t len;
	int r, bad = 0;

	if (f->type == J_ABSENT || f->type == J_NULL)
		return 0;
	if (f->type != J_ARRAY) {
		fe_add(fe, f->name, "Expected a list of items but got type "
		       "\"%s\".", py_type(f->type));
		return -1;
	}
	if (!(s = stmt(st, S_JSON_EACH, e)))
		return -2;
	sqlite3_bind_text(s, 1, f->val, (int)f->len, SQLITE_STATIC);
	while ((r = step(st, s, e)) == 1) {
		v = (const char *)sqlite3_column_text(s, 2);
		len = (size_t)sqlite3_column_bytes(s, 2);
		if (jtype_of((const char *)sqlite3_column_text(s, 1)) !=
		    J_TEXT || !len || memchr(v, '\0', len) ||
		    !sandbox_api_utf8_ok(v, len) ||
		    utf8_chars(v, len) > MAX_TAG_CHARS) {
			bad = 1;
			continue;
		}
		out->names = xrealloc(out->names, (out->count + 1) *
				      sizeof(*out->names));
		out->names[out->count++] = xstrndup(v, len);
	}
	sqlite3_reset(s);
	if (r < 0)
		return -2;
	if (bad) {
		fe_add(fe, f->name, "Each tag name must be a non-empty string "
		       "of at most %d characters.", MAX_TAG_CHARS);
		return -1;
	}
	return 1;
}

/* custom_fields: an object whose values are scalars (or null). */
static int check_custom_fields(struct sandbox_store *st,
			       struct field_errors *fe, struct field *f,
			       struct err *e)
{
	sqlite3_stmt *s;
	int r, nested = 0;

	r = check_object(fe, f);
	if (r <= 0)
		return r;
	if (!(s = stmt(st, S_COUNT_NESTED, e)))
		return -2;
	sqlite3_bind_text(s, 1, f->val, (int)f->len, SQLITE_STATIC);
	r = step(st, s, e);
	if (r == 1)
		nested = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	if (r < 0)
		return -2;
	if (nested) {
		fe_add(fe, f->name, "Values must be strings, numbers, "
		       "booleans or null.");
		return -1;
	}
	return 1;
}

static int check_source(struct field_errors *fe, struct field *f)
{
	static const char *const sources[] = {
		"api", "import", "manual", "signup", "initial_sync",
	};
	size_t i;
	int r = check_string(fe, f, OPTIONAL, NO_BLANK, MAX_NAME_CHARS);

	if (r <= 0)
		return r;
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (!strcmp(f->val, sources[i]))
			return 1;
	fe_add(fe, f->name, "\"%s\" is not a valid choice.", f->val);
	return -1;
}

enum {
	U_EMAIL, U_EXTERNAL_ID, U_FIRST, U_LAST, U_DISPLAY, U_SOURCE,
	U_CUSTOM, U_TAGS, U_NFIELDS
};

/*
 * Find the contact an upsert addresses: external_id first, then email.
 * Returns 1 found, 0 not, -1 failure, 2 when the call was answered 400
 * (the external_id's contact would be re-keyed to another's email).
 */
static int upsert_target(struct sandbox_store *st, struct sandbox_call *call,
			 const struct contact_in *in, struct contact_ref *c,
			 struct err *e)
{
	struct contact_ref other;
	struct field_errors fe = FIELD_ERRORS_INIT;
	int r;

	if (in->external_id) {
		r = find_contact(st, S_FIND_EXT, in->external_id,
				 strlen(in->external_id), c, e);
		if (r != 0) {
			if (r < 0 || !strcmp(c->email, in->email))
				return r;
			r = find_contact(st, S_FIND_EMAIL, in->email,
					 strlen(in->email), &other, e);
			if (r <= 0)
				return r < 0 ? -1 : 1;
			fe_add(&fe, "email", "A contact with this email "
			       "already exists.");
			fe_answer(&fe, call);
			return 2;
		}
	}
	return find_contact(st, S_FIND_EMAIL, in->email, strlen(in->email), c,
			    e);
}

static enum mb_rc upsert_apply(struct sandbox_store *st,
			       struct sandbox_call *call,
			       const struct contact_in *in,
			       const struct tag_list *tags, struct err *e)
{
	struct contact_ref c;
	char now[32];
	size_t i;
	int found, changed = 0, added, any_added = 0;

	iso_time(call->now, now);
	found = upsert_target(st, call, in, &c, e);
	if (found < 0)
		return MB_EDB;
	if (found == 2)
		return MB_OK;
	if (found ? update_contact(st, in, now, &c, &changed, e) :
	    create_contact(st, in, now, &c, e))
		return MB_EDB;
	for (i = 0; i < tags->count; i++) {
		if (add_tag(st, &c, tags->names[i], now, &added, e))
			return MB_EDB;
		any_added |= added;
	}
	if (found && any_added && !changed &&
	    touch_contact(st, &c, now, e) != MB_OK)
		return MB_EDB;
	return answer_contact(st, call, found ? 200 : 201, c.id, e);
}

static enum mb_rc h_upsert(struct sandbox_store *st,
			   struct sandbox_call *call, struct err *e)
{
	struct field f[U_NFIELDS] = {
		{ "email", 0, 0, 0 }, { "external_id", 0, 0, 0 },
		{ "first_name", 0, 0, 0 }, { "last_name", 0, 0, 0 },
		{ "display_name", 0, 0, 0 }, { "source", 0, 0, 0 },
		{ "custom_fields", 0, 0, 0 }, { "tag_names", 0, 0, 0 },
	};
	struct field_errors fe = FIELD_ERRORS_INIT;
	struct contact_in in = CONTACT_IN_INIT;
	struct tag_list tags = { NULL, 0 };
	enum mb_rc rc = MB_EDB;
	int r;

	r = parse_body(st, call, f, U_NFIELDS, e);
	if (r <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	log_email(call, &f[U_EMAIL]);
	check_email(&fe, &f[U_EMAIL], REQUIRED);
	check_string(&fe, &f[U_EXTERNAL_ID], OPTIONAL, NO_BLANK,
		     MAX_NAME_CHARS);
	check_string(&fe, &f[U_FIRST], OPTIONAL, BLANK_OK, MAX_NAME_CHARS);
	check_string(&fe, &f[U_LAST], OPTIONAL, BLANK_OK, MAX_NAME_CHARS);
	check_string(&fe, &f[U_DISPLAY], OPTIONAL, BLANK_OK, MAX_NAME_CHARS);
	check_source(&fe, &f[U_SOURCE]);
	if (check_custom_fields(st, &fe, &f[U_CUSTOM], e) == -2 ||
	    check_tags(st, &fe, &f[U_TAGS], &tags, e) == -2)
		goto out;
	rc = MB_OK;
	if (fe_answer(&fe, call))
		goto out;
	in.email = f[U_EMAIL].val;
	in.external_id = f[U_EXTERNAL_ID].val;
	in.first_name = f[U_FIRST].val;
	in.last_name = f[U_LAST].val;
	in.display_name = f[U_DISPLAY].val;
	in.custom_fields = f[U_CUSTOM].type == J_OBJECT ? f[U_CUSTOM].val :
		NULL;
	if (f[U_SOURCE].val)
		in.source = f[U_SOURCE].val;
	rc = upsert_apply(st, call, &in, &tags, e);
out:
	buf_release(&fe.json);
	tag_list_release(&tags);
	fields_release(f, U_NFIELDS);
	return rc;
}

static enum mb_rc h_ping(struct sandbox_store *st, struct sandbox_call *call,
			 struct err *e)
{
	struct buf *out = &call->response;
	size_t i;
	int n = 0;

	buf_reset(out);
	buf_printf(out, "{\"status\":\"ok\",\"environment\":\"%s\","
		   "\"scopes\":[", call->live ? "live" : "test");
	for (i = 0; i < NSCOPES; i++)
		if (call->scopes & (1u << i))
			buf_printf(out, "%s\"%s\"", n++ ? "," : "",
				   scope_names[i]);
	buf_addstr(out, "]}");
	call->status = 200;
	return MB_OK;
}

static enum mb_rc h_unsubscribed(struct sandbox_store *st,
				 struct sandbox_call *call, struct err *e)
{
	struct buf emails = BUF_INIT;
	sqlite3_stmt *s = stmt(st, S_UNSUB_LIST, e);
	char now[32];
	long count = 0;
	int r;

	if (!s)
		return MB_EDB;
	while ((r = step(st, s, e)) == 1) {
		if (count++)
			buf_addch(&emails, ',');
		json_add(&emails,
			(const char *)sqlite3_column_text(s, 0),
			(size_t)sqlite3_column_bytes(s, 0));
	}
	sqlite3_reset(s);
	if (r == 0) {
		iso_time(call->now, now);
		buf_reset(&call->response);
		buf_printf(&call->response, "{\"as_of\":\"%s\",\"count\":%ld,"
			   "\"emails\":[", now, count);
		buf_add(&call->response, emails.data, emails.len);
		buf_addstr(&call->response, "]}");
		call->status = 200;
	}
	buf_release(&emails);
	return r < 0 ? MB_EDB : MB_OK;
}

/* The tag a tag_name or tag_id designates: 1 name set, 0 answered. */
static int tag_of(struct sandbox_store *st, struct sandbox_call *call,
		  struct field *name, struct field *id, char **out,
		  struct err *e)
{
	struct field_errors fe = FIELD_ERRORS_INIT;
	sqlite3_stmt *s;
	int r;

	if (name->type != J_ABSENT && name->type != J_NULL) {
		if (check_string(&fe, name, REQUIRED, NO_BLANK,
				 MAX_TAG_CHARS) < 0) {
			fe_answer(&fe, call);
			return 0;
		}
		*out = xstrdup(name->val);
		return 1;
	}
	if (id->type == J_ABSENT || id->type == J_NULL) {
		fe_add(&fe, "non_field_errors", "Provide tag_name or tag_id.");
		fe_answer(&fe, call);
		return 0;
	}
	if (!(s = stmt(st, S_TAG_BY_ID, e)))
		return -1;
	sqlite3_bind_text(s, 1, id->val, (int)id->len, SQLITE_STATIC);
	r = step(st, s, e);
	if (r == 1)
		*out = xstrdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (r == 0)
		answer_detail(call, 404, "Tag not found.");
	return r;
}

static enum mb_rc tag_call(struct sandbox_store *st,
			   struct sandbox_call *call, int add, struct err *e)
{
	struct field f[2] = { { "tag_name", 0, 0, 0 }, { "tag_id", 0, 0, 0 } };
	struct contact_ref c;
	sqlite3_stmt *s;
	char now[32], *tag = NULL;
	enum mb_rc rc = MB_EDB;
	int r, changed = 0;

	iso_time(call->now, now);
	r = find_contact(st, S_FIND_ID, call->id, strlen(call->id), &c, e);
	if (r <= 0) {
		if (r == 0)
			answer_detail(call, 404, "Not found.");
		return r < 0 ? MB_EDB : MB_OK;
	}
	buf_reset(&call->emails);
	buf_addch(&call->emails, '[');
	json_str(&call->emails, c.email);
	buf_addch(&call->emails, ']');
	if ((r = parse_body(st, call, f, 2, e)) <= 0 ||
	    (r = tag_of(st, call, &f[0], &f[1], &tag, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	if (add) {
		if (add_tag(st, &c, tag, now, &changed, e) != MB_OK)
			goto out;
	} else {
		if (!(s = stmt(st, S_TAG_UNLINK, e)))
			goto out;
		bind_str(s, 1, c.id);
		bind_str(s, 2, tag);
		if (exec(st, s, e) != MB_OK)
			goto out;
		changed = sqlite3_changes(st->db) > 0;
	}
	if (changed && touch_contact(st, &c, now, e) != MB_OK)
		goto out;
	rc = answer_contact(st, call, 200, c.id, e);
out:
	free(tag);
	fields_release(f, 2);
	return rc;
}

static enum mb_rc h_add_tag(struct sandbox_store *st,
			    struct sandbox_call *call, struct err *e)
{
	return tag_call(st, call, 1, e);
}

static enum mb_rc h_remove_tag(struct sandbox_store *st,
			       struct sandbox_call *call, struct err *e)
{
	return tag_call(st, call, 0, e);
}

enum { T_EVENT, T_EMAIL, T_EXTERNAL_ID, T_PROPERTIES, T_NFIELDS };

/* The contact an event is for: external_id first, then email. */
static int event_contact(struct sandbox_store *st, struct field *f,
			 struct contact_ref *c, struct err *e)
{
	int r = 0;

	if (f[T_EXTERNAL_ID].val)
		r = find_contact(st, S_FIND_EXT, f[T_EXTERNAL_ID].val,
				 f[T_EXTERNAL_ID].len, c, e);
	if (r == 0 && f[T_EMAIL].val)
		r = find_contact(st, S_FIND_EMAIL, f[T_EMAIL].val,
				 f[T_EMAIL].len, c, e);
	return r;
}

/* Store an event for contact c and answer it. */
static enum mb_rc record_event(struct sandbox_store *st,
			       struct sandbox_call *call, struct field *f,
			       const struct contact_ref *c, struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_EVENT, e);
	char now[32];

	if (!s)
		return MB_EDB;
	iso_time(call->now, now);
	if (!call->emails.len) {
		/* Found by external_id alone: log the contact's address. */
		buf_addch(&call->emails, '[');
		json_str(&call->emails, c->email);
		buf_addch(&call->emails, ']');
	}
	bind_str(s, 1, c->id);
	bind_str(s, 2, f[T_EVENT].val);
	bind_str(s, 3, f[T_PROPERTIES].type == J_OBJECT ?
		 f[T_PROPERTIES].val : NULL);
	bind_str(s, 4, now);
	if (exec(st, s, e) != MB_OK)
		return MB_EDB;
	call->status = 200;
	buf_reset(&call->response);
	buf_printf(&call->response, "{\"status\":\"tracked\","
		   "\"contact_id\":\"%s\",\"event_name\":", c->id);
	json_str(&call->response, f[T_EVENT].val);
	buf_printf(&call->response, ",\"timestamp\":\"%s\"}", now);
	return MB_OK;
}

static enum mb_rc h_track(struct sandbox_store *st,
			  struct sandbox_call *call, struct err *e)
{
	struct field f[T_NFIELDS] = {
		{ "event_name", 0, 0, 0 }, { "email", 0, 0, 0 },
		{ "external_id", 0, 0, 0 }, { "properties", 0, 0, 0 },
	};
	struct field_errors fe = FIELD_ERRORS_INIT;
	struct contact_ref c;
	enum mb_rc rc = MB_EDB;
	int r, email, ext;

	if ((r = parse_body(st, call, f, T_NFIELDS, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	log_email(call, &f[T_EMAIL]);
	check_string(&fe, &f[T_EVENT], REQUIRED, NO_BLANK, MAX_NAME_CHARS);
	email = check_email(&fe, &f[T_EMAIL], OPTIONAL);
	ext = check_string(&fe, &f[T_EXTERNAL_ID], OPTIONAL, NO_BLANK,
			   MAX_NAME_CHARS);
	check_object(&fe, &f[T_PROPERTIES]);
	if (!email && !ext)
		fe_add(&fe, "non_field_errors", "Provide email or "
		       "external_id.");
	rc = MB_OK;
	if (fe_answer(&fe, call))
		goto out;
	rc = MB_EDB;
	r = event_contact(st, f, &c, e);
	if (r <= 0) {
		if (r == 0)
			answer_detail(call, 404, "Contact not found. Upsert "
				      "the contact first.");
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	rc = record_event(st, call, f, &c, e);
out:
	buf_release(&fe.json);
	fields_release(f, T_NFIELDS);
	return rc;
}

/* ---- sequences ---------------------------------------------------------- */

/* A sequence's status into out: 1 found, 0 not, -1 failure. */
static int sequence_status(struct sandbox_store *st, const char *slug,
			   char out[16], struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_SEQUENCE, e);
	int r;

	if (!s)
		return -1;
	bind_str(s, 1, slug);
	r = step(st, s, e);
	if (r == 1)
		col_copy(s, 0, out, 16);
	sqlite3_reset(s);
	return r;
}

/* Outcome of enrolling one address. */
enum enroll_outcome {
	ENROLLED, ALREADY_ENROLLED, SUPPRESSED, INVALID_EMAIL
};

struct enroll_in {
	const char *slug;
	int override_unsubscribe;
	const char *trigger_source;
	const char *metadata;    /* JSON object text or NULL */
	const char *now;
};

/*
 * Enroll one valid, normalised address: skip it when suppressed or already
 * active or paused in the sequence, else create the contact if absent and
 * (re-)enroll.  *outcome is set on MB_OK.
 */
static enum mb_rc enroll_one(struct sandbox_store *st,
			     const struct enroll_in *in, const char *email,
			     enum enroll_outcome *outcome, struct err *e)
{
	struct contact_in cin = CONTACT_IN_INIT;
	struct contact_ref c;
	char status[16] = "";
	sqlite3_stmt *s;
	int found, unsub, r;

	found = find_contact(st, S_FIND_EMAIL, email, strlen(email), &c, e);
	unsub = found < 0 ? -1 : on_unsub_list(st, email, e);
	if (unsub < 0 || !(s = stmt(st, S_ENROLL_STATUS, e)))
		return MB_EDB;
	if ((unsub || (found && strcmp(c.status, "active"))) &&
	    !in->override_unsubscribe) {
		*outcome = SUPPRESSED;
		return MB_OK;
	}
	bind_str(s, 1, email);
	bind_str(s, 2, in->slug);
	r = step(st, s, e);
	if (r == 1)
		col_copy(s, 0, status, sizeof(status));
	sqlite3_reset(s);
	if (r < 0)
		return MB_EDB;
	if (!strcmp(status, "active") || !strcmp(status, "paused")) {
		*outcome = ALREADY_ENROLLED;
		return MB_OK;
	}
	cin.email = email;
	if (!found && create_contact(st, &cin, in->now, &c, e) != MB_OK)
		return MB_EDB;
	if (!(s = stmt(st, S_ENROLL_PUT, e)))
		return MB_EDB;
	bind_str(s, 1, email);
	bind_str(s, 2, in->slug);
	bind_str(s, 3, in->now);
	bind_str(s, 4, c.id);
	bind_str(s, 5, in->trigger_source);
	bind_str(s, 6, in->metadata);
	*outcome = ENROLLED;
	return exec(st, s, e);
}

enum {
	E_EMAIL, E_SLUG, E_METADATA, E_TRIGGER_SOURCE, E_OVERRIDE, E_NFIELDS
};

static enum mb_rc enroll_answer(struct sandbox_call *call,
				const struct enroll_in *in, const char *email,
				enum enroll_outcome outcome)
{
	switch (outcome) {
	case ENROLLED:
		call->status = 201;
		buf_reset(&call->response);
		buf_addstr(&call->response, "{\"status\":\"enrolled\","
			   "\"email\":");
		json_str(&call->response, email);
		buf_addstr(&call->response, ",\"sequence_slug\":");
		json_str(&call->response, in->slug);
		buf_printf(&call->response, ",\"enrolled_at\":\"%s\"}",
			   in->now);
		break;
	case SUPPRESSED:
		answer_detail(call, 422, "Contact is unsubscribed.");
		break;
	default:
		call->status = 400;
		buf_reset(&call->response);
		buf_addstr(&call->response, "{\"non_field_errors\":[\"Contact "
			   "is already enrolled in this sequence.\"]}");
	}
	return MB_OK;
}

/* Check a sequence_slug field: 1 active, 0 answered, -1 failure. */
static int check_sequence(struct sandbox_store *st, struct sandbox_call *call,
			  struct field *f, int missing_status,
			  struct err *e)
{
	struct field_errors fe = FIELD_ERRORS_INIT;
	char status[16];
	int r;

	r = sequence_status(st, f->val, status, e);
	if (r < 0)
		return -1;
	if (r == 0 && missing_status == 404) {
		answer_detail(call, 404, "Sequence not found.");
		return 0;
	}
	if (r == 0)
		fe_add(&fe, f->name, "Sequence \"%s\" does not exist.",
		       f->val);
	else if (strcmp(status, "active"))
		fe_add(&fe, f->name, "Sequence \"%s\" is not active.", f->val);
	return fe_answer(&fe, call) ? 0 : 1;
}

static enum mb_rc h_enroll(struct sandbox_store *st,
			   struct sandbox_call *call, struct err *e)
{
	struct field f[E_NFIELDS] = {
		{ "email", 0, 0, 0 }, { "sequence_slug", 0, 0, 0 },
		{ "metadata", 0, 0, 0 }, { "trigger_source", 0, 0, 0 },
		{ "override_unsubscribe", 0, 0, 0 },
	};
	struct field_errors fe = FIELD_ERRORS_INIT;
	struct enroll_in in = { NULL, 0, "api", NULL, NULL };
	enum enroll_outcome outcome;
	enum mb_rc rc = MB_EDB;
	char now[32];
	int r;

	iso_time(call->now, now);
	in.now = now;
	if ((r = parse_body(st, call, f, E_NFIELDS, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	log_email(call, &f[E_EMAIL]);
	check_email(&fe, &f[E_EMAIL], REQUIRED);
	check_string(&fe, &f[E_SLUG], REQUIRED, NO_BLANK, MAX_NAME_CHARS);
	check_object(&fe, &f[E_METADATA]);
	check_string(&fe, &f[E_TRIGGER_SOURCE], OPTIONAL, NO_BLANK,
		     MAX_NAME_CHARS);
	check_bool(&fe, &f[E_OVERRIDE], &in.override_unsubscribe);
	rc = MB_OK;
	if (fe_answer(&fe, call))
		goto out;
	rc = MB_EDB;
	if ((r = check_sequence(st, call, &f[E_SLUG], 404, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	in.slug = f[E_SLUG].val;
	if (f[E_TRIGGER_SOURCE].val)
		in.trigger_source = f[E_TRIGGER_SOURCE].val;
	if (f[E_METADATA].type == J_OBJECT)
		in.metadata = f[E_METADATA].val;
	if (enroll_one(st, &in, f[E_EMAIL].val, &outcome, e) != MB_OK)
		goto out;
	rc = enroll_answer(call, &in, f[E_EMAIL].val, outcome);
out:
	buf_release(&fe.json);
	fields_release(f, E_NFIELDS);
	return rc;
}

static const char *const outcome_names[] = {
	"enrolled", "already_enrolled", "suppressed", "invalid_email",
};

/* The elements of a JSON array, decoded. */
struct item {
	enum jtype type;
	char *val;               /* decoded text, number text, "null"... */
	size_t len;
};

static void items_free(struct item *items, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		free(items[k].val);
	free(items);
}

/*
 * Copy the elements of the JSON array text p out of SQLite first, so that
 * no statement of this module is held in the middle of a walk while the
 * caller runs others.  Returns the count, or -1 on failure.
 */
static long read_items(struct sandbox_store *st, const char *p, size_t n,
		       struct item **out, struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_JSON_EACH, e);
	struct item *items = NULL;
	const char *v;
	long count = 0;
	int r;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, p, (int)n, SQLITE_STATIC);
	while ((r = step(st, s, e)) == 1) {
		items = xrealloc(items, (size_t)(count + 1) * sizeof(*items));
		v = (const char *)sqlite3_column_text(s, 2);
		items[count].type = jtype_of((const char *)
					     sqlite3_column_text(s, 1));
		items[count].len = v ? (size_t)sqlite3_column_bytes(s, 2) : 4;
		items[count].val = xstrndup(v ? v : "null", items[count].len);
		count++;
	}
	sqlite3_reset(s);
	if (r < 0) {
		items_free(items, (size_t)count);
		return -1;
	}
	*out = items;
	return count;
}

/* The outcome for one element of a bulk-enroll emails array. */
static enum mb_rc enroll_item(struct sandbox_store *st,
			      const struct enroll_in *in,
			      const struct item *item,
			      enum enroll_outcome *outcome, struct err *e)
{
	struct field one = { "email", 0, NULL, 0 };
	struct field_errors fe = FIELD_ERRORS_INIT;
	enum mb_rc rc = MB_OK;

	one.type = item->type;
	one.val = xstrndup(item->val, item->len);
	one.len = item->len;
	if (check_email(&fe, &one, REQUIRED) < 0)
		*outcome = INVALID_EMAIL;
	else
		rc = enroll_one(st, in, one.val, outcome, e);
	fields_release(&one, 1);
	buf_release(&fe.json);
	return rc;
}

/* Enroll every element of the emails array, appending results. */
static enum mb_rc bulk_enroll_all(struct sandbox_store *st,
				  const struct enroll_in *in,
				  const struct field *emails,
				  struct buf *results, long *enrolled,
				  long *skipped, struct err *e)
{
	struct item *items = NULL;
	enum enroll_outcome outcome;
	enum mb_rc rc = MB_OK;
	long n, k;

	n = read_items(st, emails->val, emails->len, &items, e);
	if (n < 0)
		return MB_EDB;
	for (k = 0; k < n; k++) {
		rc = enroll_item(st, in, &items[k], &outcome, e);
		if (rc != MB_OK)
			break;
		*(outcome == ENROLLED ? enrolled : skipped) += 1;
		/* The address as sent (json_add replaces any byte that is
		 * not UTF-8: a lone surrogate escape decodes to such). */
		buf_addstr(results, k ? ",{\"email\":" : "{\"email\":");
		json_add(results, items[k].val, items[k].len);
		buf_printf(results, ",\"status\":\"%s\"}",
			   outcome_names[outcome]);
	}
	items_free(items, (size_t)(n > 0 ? n : 0));
	return rc;
}

/* emails: a non-empty list of at most 500 items. */
static int check_email_list(struct sandbox_store *st, struct field_errors *fe,
			    struct field *f, struct err *e)
{
	sqlite3_stmt *s;
	int r, count = 0;

	if (f->type == J_ABSENT || f->type == J_NULL) {
		fe_add(fe, f->name, f->type == J_NULL ?
		       "This field may not be null." :
		       "This field is required.");
		return -1;
	}
	if (f->type != J_ARRAY) {
		fe_add(fe, f->name, "Expected a list of items but got type "
		       "\"%s\".", py_type(f->type));
		return -1;
	}
	if (!(s = stmt(st, S_JSON_EACH, e)))
		return -2;
	sqlite3_bind_text(s, 1, f->val, (int)f->len, SQLITE_STATIC);
	while ((r = step(st, s, e)) == 1)
		count++;
	sqlite3_reset(s);
	if (r < 0)
		return -2;
	if (!count) {
		fe_add(fe, f->name, "This list may not be empty.");
		return -1;
	}
	if (count > MAX_BULK_EMAILS) {
		fe_add(fe, f->name, "Ensure this field has no more than %d "
		       "elements.", MAX_BULK_EMAILS);
		return -1;
	}
	return 1;
}

enum { B_SLUG, B_EMAILS, B_OVERRIDE, B_NFIELDS };

static enum mb_rc h_bulk_enroll(struct sandbox_store *st,
				struct sandbox_call *call, struct err *e)
{
	struct field f[B_NFIELDS] = {
		{ "sequence_slug", 0, 0, 0 }, { "emails", 0, 0, 0 },
		{ "override_unsubscribe", 0, 0, 0 },
	};
	struct field_errors fe = FIELD_ERRORS_INIT;
	struct enroll_in in = { NULL, 0, "bulk", NULL, NULL };
	struct buf results = BUF_INIT;
	long enrolled = 0, skipped = 0;
	enum mb_rc rc = MB_EDB;
	char now[32];
	int r;

	iso_time(call->now, now);
	in.now = now;
	if ((r = parse_body(st, call, f, B_NFIELDS, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	if (f[B_EMAILS].type == J_ARRAY)
		buf_set(&call->emails, f[B_EMAILS].val, f[B_EMAILS].len);
	check_string(&fe, &f[B_SLUG], REQUIRED, NO_BLANK, MAX_NAME_CHARS);
	if (check_email_list(st, &fe, &f[B_EMAILS], e) == -2)
		goto out;
	check_bool(&fe, &f[B_OVERRIDE], &in.override_unsubscribe);
	rc = MB_OK;
	if (fe_answer(&fe, call))
		goto out;
	rc = MB_EDB;
	if ((r = check_sequence(st, call, &f[B_SLUG], 400, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	in.slug = f[B_SLUG].val;
	if (bulk_enroll_all(st, &in, &f[B_EMAILS], &results, &enrolled,
			    &skipped, e) != MB_OK)
		goto out;
	call->status = 200;
	buf_reset(&call->response);
	buf_addstr(&call->response, "{\"sequence_slug\":");
	json_str(&call->response, in.slug);
	buf_printf(&call->response, ",\"enrolled\":%ld,\"skipped\":%ld,"
		   "\"results\":[", enrolled, skipped);
	buf_add(&call->response, results.data, results.len);
	buf_addstr(&call->response, "]}");
	rc = MB_OK;
out:
	buf_release(&results);
	buf_release(&fe.json);
	fields_release(f, B_NFIELDS);
	return rc;
}

static enum mb_rc h_sequence_list(struct sandbox_store *st,
				  struct sandbox_call *call, struct err *e)
{
	struct buf status = BUF_INIT, search = BUF_INIT, rows = BUF_INIT;
	sqlite3_stmt *s;
	enum mb_rc rc = MB_EDB;
	long count = 0;
	int r, has_status;

	has_status = sandbox_api_query_get(call->query, "status", &status);
	sandbox_api_query_get(call->query, "search", &search);
	if (has_status && strcmp(buf_str(&status), "all") &&
	    strcmp(buf_str(&status), "active") &&
	    strcmp(buf_str(&status), "paused")) {
		call->status = 400;
		buf_reset(&call->response);
		buf_addstr(&call->response, "{\"status\":[");
		buf_printf(&rows, "\"%s\" is not a valid choice.",
			   buf_str(&status));
		json_add(&call->response, rows.data, rows.len);
		buf_addstr(&call->response, "]}");
		rc = MB_OK;
		goto out;
	}
	if (!(s = stmt(st, S_SEQUENCE_LIST, e)))
		goto out;
	if (!has_status)
		bind_str(s, 1, "active");
	else if (strcmp(buf_str(&status), "all"))
		bind_str(s, 1, buf_str(&status));
	if (search.len)
		bind_str(s, 2, buf_str(&search));
	while ((r = step(st, s, e)) == 1) {
		buf_addstr(&rows, count++ ? ",{\"slug\":" : "{\"slug\":");
		json_str(&rows, (const char *)sqlite3_column_text(s, 0));
		buf_addstr(&rows, ",\"name\":");
		json_str(&rows, (const char *)sqlite3_column_text(s, 1));
		buf_addstr(&rows, ",\"status\":");
		json_str(&rows, (const char *)sqlite3_column_text(s, 2));
		buf_addch(&rows, '}');
	}
	sqlite3_reset(s);
	if (r < 0)
		goto out;
	call->status = 200;
	buf_reset(&call->response);
	buf_printf(&call->response, "{\"count\":%ld,\"results\":[", count);
	buf_add(&call->response, rows.data, rows.len);
	buf_addstr(&call->response, "]}");
	rc = MB_OK;
out:
	buf_release(&status);
	buf_release(&search);
	buf_release(&rows);
	return rc;
}

static enum mb_rc h_contact_enrollments(struct sandbox_store *st,
					struct sandbox_call *call,
					struct err *e)
{
	struct field email = { "email", J_TEXT, NULL, 0 };
	struct field_errors fe = FIELD_ERRORS_INIT;
	struct buf value = BUF_INIT;
	sqlite3_stmt *s;
	enum mb_rc rc = MB_EDB;
	long count = 0;
	int r;

	if (!sandbox_api_query_get(call->query, "email", &value))
		email.type = J_ABSENT;
	email.len = value.len;
	email.val = buf_detach(&value, NULL);
	rc = MB_OK;
	if (check_email(&fe, &email, REQUIRED) < 0 || fe_answer(&fe, call))
		goto out;
	rc = MB_EDB;
	if (!(s = stmt(st, S_ENROLLMENTS_OF, e)))
		goto out;
	bind_str(s, 1, email.val);
	buf_reset(&call->response);
	buf_addstr(&call->response, "{\"email\":");
	json_str(&call->response, email.val);
	buf_addstr(&call->response, ",\"enrollments\":[");
	while ((r = step(st, s, e)) == 1) {
		buf_addstr(&call->response, count++ ?
			   ",{\"sequence_slug\":" : "{\"sequence_slug\":");
		json_str(&call->response,
			 (const char *)sqlite3_column_text(s, 0));
		buf_addstr(&call->response, ",\"status\":");
		json_str(&call->response,
			 (const char *)sqlite3_column_text(s, 1));
		buf_addch(&call->response, '}');
	}
	sqlite3_reset(s);
	if (r < 0)
		goto out;
	buf_addstr(&call->response, "]}");
	call->status = 200;
	rc = MB_OK;
out:
	fe_answer(&fe, call);
	fields_release(&email, 1);
	return rc;
}

enum {
	M_TRIGGER, M_TO, M_VARIABLES, M_RECIPIENT, M_IDEMPOTENCY, M_SEND_AT,
	M_NFIELDS
};

/* 1 when key is a known trigger (--trigger), 0 not, -1 failure. */
static int trigger_known(struct sandbox_store *st, const char *key,
			 struct err *e)
{
	return exists_by(st, S_TRIGGER_KNOWN, key, e);
}

/* A send with this idempotency key in the last hour: 1 (id set), 0, -1. */
static int idempotent_send(struct sandbox_store *st,
			   const struct sandbox_call *call, const char *key,
			   char id[ID_MAX], struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_IDEMPOTENT, e);
	int r;

	if (!s)
		return -1;
	bind_str(s, 1, key);
	bind_str(s, 2, call->key_label);
	sqlite3_bind_double(s, 3, call->now - 3600.0);
	r = step(st, s, e);
	if (r == 1)
		col_copy(s, 0, id, ID_MAX);
	sqlite3_reset(s);
	return r;
}

static enum mb_rc record_send(struct sandbox_store *st,
			      struct sandbox_call *call, struct field *f,
			      const char *id, const char *status,
			      struct err *e)
{
	sqlite3_stmt *s = stmt(st, S_SENT_EMAIL, e);
	char now[32];

	if (!s)
		return MB_EDB;
	iso_time(call->now, now);
	bind_str(s, 1, id);
	bind_str(s, 2, f[M_TRIGGER].val);
	bind_str(s, 3, f[M_TO].val);
	bind_str(s, 4, f[M_IDEMPOTENCY].val);
	bind_str(s, 5, call->key_label);
	bind_str(s, 6, status);
	bind_str(s, 7, f[M_VARIABLES].type == J_OBJECT ?
		 f[M_VARIABLES].val : NULL);
	bind_str(s, 8, now);
	sqlite3_bind_double(s, 9, call->now);
	return exec(st, s, e);
}

/* Decide and record a send that passed validation. */
static enum mb_rc trigger_send(struct sandbox_store *st,
			       struct sandbox_call *call, struct field *f,
			       struct err *e)
{
	struct contact_ref c;
	char id[ID_MAX];
	int r, unsub, scheduled = f[M_SEND_AT].val != NULL;

	unsub = on_unsub_list(st, f[M_TO].val, e);
	r = unsub ? 0 : find_contact(st, S_FIND_EMAIL, f[M_TO].val,
				     f[M_TO].len, &c, e);
	if (unsub < 0 || r < 0)
		return MB_EDB;
	if (unsub || (r == 1 && strcmp(c.status, "active"))) {
		answer_detail(call, 422, "Recipient is unsubscribed.");
		return MB_OK;
	}
	r = f[M_IDEMPOTENCY].val ?
		idempotent_send(st, call, f[M_IDEMPOTENCY].val, id, e) : 0;
	if (r < 0)
		return MB_EDB;
	buf_reset(&call->response);
	if (r == 1) {
		call->status = 200;
		buf_printf(&call->response, "{\"status\":\"skipped\","
			   "\"reason\":\"duplicate idempotency_key\","
			   "\"message_id\":\"%s\"}", id);
		return MB_OK;
	}
	sandbox_store_uuid(st, id);
	call->status = scheduled ? 202 : 200;
	buf_printf(&call->response, "{\"status\":\"%s\",\"message_id\":"
		   "\"%s\"}", scheduled ? "scheduled" : "sent", id);
	return record_send(st, call, f, id, scheduled ? "scheduled" : "sent",
			   e);
}

static enum mb_rc h_trigger(struct sandbox_store *st,
			    struct sandbox_call *call, struct err *e)
{
	struct field f[M_NFIELDS] = {
		{ "trigger_key", 0, 0, 0 }, { "to_email", 0, 0, 0 },
		{ "variables", 0, 0, 0 }, { "recipient", 0, 0, 0 },
		{ "idempotency_key", 0, 0, 0 }, { "send_at", 0, 0, 0 },
	};
	struct field_errors fe = FIELD_ERRORS_INIT;
	enum mb_rc rc = MB_EDB;
	int r;

	if ((r = parse_body(st, call, f, M_NFIELDS, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	log_email(call, &f[M_TO]);
	r = check_string(&fe, &f[M_TRIGGER], REQUIRED, NO_BLANK,
			 MAX_NAME_CHARS);
	check_email(&fe, &f[M_TO], REQUIRED);
	check_object(&fe, &f[M_VARIABLES]);
	check_object(&fe, &f[M_RECIPIENT]);
	check_string(&fe, &f[M_IDEMPOTENCY], OPTIONAL, NO_BLANK,
		     MAX_NAME_CHARS);
	check_string(&fe, &f[M_SEND_AT], OPTIONAL, NO_BLANK, MAX_NAME_CHARS);
	if (r == 1) {
		r = trigger_known(st, f[M_TRIGGER].val, e);
		if (r < 0)
			goto out;
		if (r == 0)
			fe_add(&fe, "trigger_key", "Unknown trigger \"%s\".",
			       f[M_TRIGGER].val);
	}
	rc = MB_OK;
	if (fe_answer(&fe, call))
		goto out;
	rc = trigger_send(st, call, f, e);
out:
	buf_release(&fe.json);
	fields_release(f, M_NFIELDS);
	return rc;
}

/* ---- routing ------------------------------------------------------------ */

static const struct sandbox_route routes[] = {
	{ "/ping/", "GET", 0, h_ping },
	{ "/contacts/upsert/", "POST", SANDBOX_SCOPE_CONTACTS_WRITE,
	  h_upsert },
	{ "/contacts/api/unsubscribed-emails/", "GET",
	  SANDBOX_SCOPE_CONTACTS_READ, h_unsubscribed },
	{ "/contacts/*/add_tag/", "POST", SANDBOX_SCOPE_CONTACTS_WRITE,
	  h_add_tag },
	{ "/contacts/*/remove_tag/", "POST", SANDBOX_SCOPE_CONTACTS_WRITE,
	  h_remove_tag },
	{ "/events/track/", "POST", SANDBOX_SCOPE_EVENTS_TRACK, h_track },
	{ "/sequences/enroll/", "POST", SANDBOX_SCOPE_SEQUENCES_ENROLL,
	  h_enroll },
	{ "/sequences/api/bulk-enroll/", "POST",
	  SANDBOX_SCOPE_SEQUENCES_ENROLL, h_bulk_enroll },
	{ "/sequences/api/list/", "GET", SANDBOX_SCOPE_SEQUENCES_READ,
	  h_sequence_list },
	{ "/sequences/api/contact-enrollments/", "GET",
	  SANDBOX_SCOPE_SEQUENCES_READ, h_contact_enrollments },
	{ "/emails/trigger/", "POST", SANDBOX_SCOPE_EMAILS_TRIGGER,
	  h_trigger },
};

/* Match path against pattern; a "*" takes one non-empty segment. */
static int route_match(const char *pattern, const char *path, char *id,
		       size_t id_size)
{
	size_t len;

	while (*pattern) {
		if (*pattern == '*') {
			len = strcspn(path, "/");
			if (!len || len >= id_size)
				return 0;
			memcpy(id, path, len);
			id[len] = '\0';
			path += len;
			pattern++;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return !*path;
}

const struct sandbox_route *sandbox_api_route(const char *path, char *id,
					      size_t id_size)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (id_size)
			id[0] = '\0';
		if (route_match(routes[i].path, path, id, id_size))
			return &routes[i];
	}
	if (id_size)
		id[0] = '\0';
	return NULL;
}

int sandbox_api_method_ok(const struct sandbox_route *route,
			  const char *method)
{
	return !strcmp(route->method, method) ||
		(!strcmp(route->method, "GET") && !strcmp(method, "HEAD"));
}

/* application/json, with or without parameters (charset=utf-8). */
static int json_content_type(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	return !strncasecmp(ct, want, n) &&
		(!ct[n] || ct[n] == ';' || ct[n] == ' ');
}

void sandbox_call_release(struct sandbox_call *call)
{
	buf_release(&call->response);
	buf_release(&call->emails);
	call->status = 0;
}

enum mb_rc sandbox_api_handle(struct sandbox_store *st,
			      struct sandbox_call *call, struct err *e)
{
	enum mb_rc rc;

	buf_reset(&call->response);
	buf_reset(&call->emails);
	call->status = 0;
	if (!strcmp(call->route->method, "POST")) {
		if (!json_content_type(call->content_type)) {
			answer_detail(call, 415, "Unsupported media type "
				      "\"%s\" in request.",
				      call->content_type ?
				      call->content_type : "");
			return MB_OK;
		}
		if (!sandbox_api_utf8_ok(call->body, call->body_len) ||
		    memchr(call->body, '\0', call->body_len)) {
			answer_detail(call, 400, "JSON parse error - the body "
				      "is not valid UTF-8 text");
			return MB_OK;
		}
	}
	rc = call->route->handler(st, call, e);
	if (rc == MB_OK && !call->status)
		rc = err_set(e, MB_EINTERNAL, "%s %s: no answer", call->method,
			     call->route->path);
	if (rc != MB_OK) {
		call->status = 500;
		sandbox_api_detail(&call->response, "A server error "
				   "occurred.");
	}
	return rc;
}
