/*
 * mapping_custom: custom_fields when they are more than the custom columns
 * in key order (mapping_int.h): the members of a JSON attributes cell
 * (listmonk's "attributes", Keila's "Data"), with consent_source.  Entries
 * are collected, sorted by key and written as one canonical object; the
 * plain case, consent_source included (one key at a place known from the
 * header), stays in mapping.c, without a sort.
 *
 * Decisions worth knowing:
 *   - A member's key gets the snake_case form of a header ("clientId" ->
 *     clientid), so keys read alike whatever their source; a key that a
 *     custom column of the file holds, or that an earlier member gave, is
 *     dropped: the column wins.
 *   - Member values keep their JSON type: strings, numbers as written,
 *     true/false; null is no value (omitted); a nested object or array is
 *     its JSON text as a string (Meisa's custom fields are flat).
 *   - A cell that is not one JSON object is one string under the column's
 *     own key, never a reject: the row's contact is still good.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mapping.h"
#include "mapping_int.h"
#include "typing.h"
#include "xalloc.h"

struct entry {
	size_t key;              /* offset of the NUL-terminated key in text */
	size_t value;            /* offset of the JSON value in text */
	size_t value_len;
	const char *key_text;    /* set once text stops moving (sorting) */
};

struct entries {
	struct buf text;         /* keys and values, one after the other */
	struct buf scratch;      /* a decoded JSON string */
	struct buf key;          /* a member's key in snake_case */
	struct entry *at;
	size_t n, cap;
};

static int entries_has(const struct entries *es, const char *key)
{
	size_t i;

	for (i = 0; i < es->n; i++)
		if (strcmp(es->text.data + es->at[i].key, key) == 0)
			return 1;
	return 0;
}

/* A new entry for key; its value is what is appended to es->text next. */
static enum mb_rc entry_start(struct entries *es, const char *key)
{
	enum mb_rc rc;

	if (es->n == es->cap) {
		es->cap = es->cap ? 2 * es->cap : 16;
		es->at = xrealloc(es->at, es->cap * sizeof(*es->at));
	}
	es->at[es->n].key = es->text.len;
	if ((rc = buf_add(&es->text, key, strlen(key) + 1)) != MB_OK)
		return rc;
	es->at[es->n].value = es->text.len;
	return MB_OK;
}

static void entry_end(struct entries *es)
{
	es->at[es->n].value_len = es->text.len - es->at[es->n].value;
	es->n++;
}

/* Drop what was added after the entry count n and text length len. */
static void entries_undo(struct entries *es, size_t n, size_t len)
{
	es->n = n;
	es->text.len = len;
	if (es->text.data)
		es->text.data[len] = '\0';
}

/* Some custom column of m has this key (it wins over a JSON member). */
static int column_has(const struct mapping *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->norder; i++)
		if (strcmp(m->columns[m->order[i]].key, key) == 0)
			return 1;
	return 0;
}

/* ---- a JSON object cell ----------------------------------------------- */

struct cursor {
	const char *p;
	size_t n, i;
};

static void skip_space(struct cursor *c)
{
	while (c->i < c->n && c->p[c->i] && strchr(" \t\r\n", c->p[c->i]))
		c->i++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int k;

	for (k = 0; k < 4; k++) {
		char h = p[k];

		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= (unsigned)(h - '0');
		else if (h >= 'a' && h <= 'f')
			v |= (unsigned)(h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			v |= (unsigned)(h - 'A' + 10);
		else
			return 0;
	}
	*out = v;
	return 1;
}

static enum mb_rc put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_add(b, u, n);
}

/* \uXXXX at c (after the 'u'), a surrogate pair joined; 0 when invalid. */
static int unicode_escape(struct cursor *c, unsigned *cp)
{
	unsigned lo;

	if (c->i + 4 > c->n || !hex4(c->p + c->i, cp))
		return 0;
	c->i += 4;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return 0;
	if (*cp >= 0xD800 && *cp <= 0xDBFF) {
		if (c->i + 6 > c->n || c->p[c->i] != '\\' ||
		    c->p[c->i + 1] != 'u' || !hex4(c->p + c->i + 2, &lo) ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return 0;
		c->i += 6;
		*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	return *cp != 0;         /* a NUL would end the C string */
}

/* One escape after the backslash into out; MB_EDATA when invalid. */
static enum mb_rc string_escape(struct cursor *c, struct buf *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;
	unsigned cp;

	if (c->i >= c->n)
		return MB_EDATA;
	if (c->p[c->i] == 'u') {
		c->i++;
		return unicode_escape(c, &cp) ? put_utf8(out, cp) : MB_EDATA;
	}
	k = c->p[c->i] ? strchr(from, c->p[c->i]) : NULL;
	if (!k)
		return MB_EDATA;
	c->i++;
	return buf_addch(out, to[k - from]);
}

/* A JSON string at c (on its quote), decoded into out (reset first). */
static enum mb_rc string_token(struct cursor *c, struct buf *out)
{
	enum mb_rc rc = MB_OK;
	char ch;

	buf_reset(out);
	if (c->i >= c->n || c->p[c->i] != '"')
		return MB_EDATA;
	for (c->i++; c->i < c->n && rc == MB_OK;) {
		ch = c->p[c->i++];
		if (ch == '"')
			return buf_add(out, "", 0);
		if ((unsigned char)ch < 0x20)
			return MB_EDATA;
		rc = ch == '\\' ? string_escape(c, out) : buf_addch(out, ch);
	}
	return rc == MB_OK ? MB_EDATA : rc;
}

/* Past a nested object or array at c; 0 when it does not end. */
static int skip_nested(struct cursor *c)
{
	size_t depth = 0;
	int in_string = 0;

	for (; c->i < c->n; c->i++) {
		char ch = c->p[c->i];

		if (in_string) {
			if (ch == '\\')
				c->i++;
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if ((ch == '}' || ch == ']') && --depth == 0) {
			c->i++;
			return 1;
		}
	}
	return 0;
}

/* A literal or number at c: its text, up to a delimiter. */
static size_t bare_token(struct cursor *c)
{
	size_t start = c->i;

	while (c->i < c->n && c->p[c->i] && !strchr(",}] \t\r\n", c->p[c->i]))
		c->i++;
	return c->i - start;
}

/* One member's value at c into es->text; *none for null. */
static enum mb_rc member_value(struct entries *es, struct cursor *c,
			       int *none)
{
	const char *start = c->p + c->i;
	enum mb_rc rc;
	size_t len;

	*none = 0;
	if (c->i >= c->n)
		return MB_EDATA;
	if (*start == '"') {
		if ((rc = string_token(c, &es->scratch)) != MB_OK)
			return rc;
		return json_add_string(&es->text, es->scratch.data,
				       es->scratch.len);
	}
	if (*start == '{' || *start == '[') {
		if (!skip_nested(c))
			return MB_EDATA;
		return json_add_string(&es->text, start,
				       (size_t)(c->p + c->i - start));
	}
	len = bare_token(c);
	if (len == 4 && memcmp(start, "null", 4) == 0)
		*none = 1;
	else if ((len == 4 && memcmp(start, "true", 4) == 0) ||
		 (len == 5 && memcmp(start, "false", 5) == 0))
		return buf_add(&es->text, start, len);
	else if (len && (typing_is_integer(start, len) ||
			 typing_is_decimal(start, len)))
		return buf_add(&es->text, start, len);
	else if (len && strchr("-0123456789", *start))
		return json_add_string(&es->text, start, len);
	else
		return MB_EDATA;
	return MB_OK;
}

/* One "key": value member at c, added unless its key is taken. */
static enum mb_rc member(const struct mapping *m, struct entries *es,
			 struct cursor *c)
{
	size_t n = es->n, len = es->text.len;
	enum mb_rc rc;
	int none, keep;

	if ((rc = string_token(c, &es->scratch)) != MB_OK ||
	    (rc = mapping_snake_key(buf_str(&es->scratch), &es->key)) != MB_OK)
		return rc;
	skip_space(c);
	if (c->i >= c->n || c->p[c->i++] != ':')
		return MB_EDATA;
	skip_space(c);
	keep = es->key.len && !entries_has(es, es->key.data) &&
		!column_has(m, es->key.data);
	if ((rc = entry_start(es, es->key.len ? es->key.data : "")) != MB_OK ||
	    (rc = member_value(es, c, &none)) != MB_OK)
		return rc;
	if (keep && !none)
		entry_end(es);
	else
		entries_undo(es, n, len);
	return MB_OK;
}

/* The members of the object in p[0..n). */
static enum mb_rc object_cell(const struct mapping *m, struct entries *es,
			      const char *p, size_t n)
{
	struct cursor c = { p, n, 0 };
	enum mb_rc rc;

	if (n < 2 || p[0] != '{')
		return MB_EDATA;
	c.i = 1;
	skip_space(&c);
	if (c.i < n && p[c.i] == '}')
		return c.i + 1 == n ? MB_OK : MB_EDATA;
	for (;;) {
		if ((rc = member(m, es, &c)) != MB_OK)
			return rc;
		skip_space(&c);
		if (c.i >= n)
			return MB_EDATA;
		if (p[c.i] == '}')
			return c.i + 1 == n ? MB_OK : MB_EDATA;
		if (p[c.i++] != ',')
			return MB_EDATA;
		skip_space(&c);
	}
}

static enum mb_rc typed_entry(struct entries *es, const char *key,
			      const char *p, size_t n, unsigned flags)
{
	enum mb_rc rc;

	if ((rc = entry_start(es, key)) != MB_OK ||
	    (rc = typing_add_value(&es->text, p, n, flags)) != MB_OK)
		return rc;
	entry_end(es);
	return MB_OK;
}

static enum mb_rc attributes_cell(const struct mapping *m,
				  struct entries *es,
				  const struct mapping_column *c,
				  const char *p, size_t n)
{
	size_t mark = es->n, len = es->text.len;
	enum mb_rc rc = object_cell(m, es, p, n);

	if (rc != MB_EDATA)
		return rc;
	entries_undo(es, mark, len);
	if (entries_has(es, c->key))
		return MB_OK;
	return typed_entry(es, c->key, p, n, m->typing_flags);
}

/* ---- collect, sort, write --------------------------------------------- */

static const char *row_cell(const struct csv_row *row, size_t i, size_t *n)
{
	if (i >= row->nfields) {
		*n = 0;
		return "";
	}
	return mapping_trim(row->fields[i].data, row->fields[i].len, n);
}

static enum mb_rc collect(const struct mapping *m, const struct csv_row *row,
			  struct entries *es)
{
	const struct mapping_column *c;
	enum mb_rc rc = MB_OK;
	int evidence = 0;
	const char *p;
	size_t i, n;

	for (i = 0; i < m->norder && rc == MB_OK; i++) {
		c = &m->columns[m->order[i]];
		p = row_cell(row, m->order[i], &n);
		if (n == 0)
			continue;
		evidence |= c->consent;
		rc = typed_entry(es, c->key, p, n,
				 m->typing_flags | c->typing_flags);
	}
	if (rc == MB_OK && evidence &&
	    (rc = entry_start(es, MAPPING_CONSENT_SOURCE)) == MB_OK &&
	    (rc = json_add_string(&es->text, m->preset,
				  strlen(m->preset))) == MB_OK)
		entry_end(es);
	for (i = 0; i < m->ncolumns && rc == MB_OK; i++) {
		p = row_cell(row, i, &n);
		if (m->columns[i].role == FIELD_ATTRIBUTES && n)
			rc = attributes_cell(m, es, &m->columns[i], p, n);
	}
	return rc;
}

static int by_key(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return strcmp(x->key_text, y->key_text);
}

static enum mb_rc write_object(struct entries *es, struct buf *out)
{
	enum mb_rc rc;
	size_t i;

	for (i = 0; i < es->n; i++)
		es->at[i].key_text = es->text.data + es->at[i].key;
	if (es->n)
		qsort(es->at, es->n, sizeof(*es->at), by_key);
	rc = buf_addch(out, '{');
	for (i = 0; i < es->n && rc == MB_OK; i++) {
		const struct entry *e = &es->at[i];

		if ((i && (rc = buf_addch(out, ',')) != MB_OK) ||
		    (rc = json_add_string(out, e->key_text,
					  strlen(e->key_text))) != MB_OK ||
		    (rc = buf_addch(out, ':')) != MB_OK)
			break;
		rc = buf_add(out, es->text.data + e->value, e->value_len);
	}
	return rc == MB_OK ? buf_addch(out, '}') : rc;
}

enum mb_rc mapping_custom_merged(const struct mapping *m,
				 const struct csv_row *row,
				 struct record *rec)
{
	struct entries es;
	enum mb_rc rc;

	memset(&es, 0, sizeof(es));
	buf_init(&es.text, rec->custom.max);
	buf_init(&es.scratch, rec->custom.max);
	buf_init(&es.key, rec->custom.max);
	rc = collect(m, row, &es);
	if (rc == MB_OK)
		rc = write_object(&es, &rec->custom);
	buf_release(&es.text);
	buf_release(&es.scratch);
	buf_release(&es.key);
	free(es.at);
	return rc;
}
