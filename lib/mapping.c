/*
 * mapping: data row -> record (mapping_apply), with the roles mapping_build
 * gave the columns (mapping_build.c).  The value typing lives in typing.c;
 * this file applies it.
 *
 * Decisions worth knowing (the header says the rest):
 *   - Tags are the same tag when they are byte-identical after trimming
 *     (case matters: Meisa shows tag names as written).
 *   - A "Jane Doe <jane@x.com>" email cell gives display_name "Jane Doe"
 *     when no display-name column gave one.
 *   - A row may lack trailing cells whose header is empty (a header that
 *     ends in commas); any other missing cell is too_few_fields.
 */
#include "mapping.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mapping_int.h"
#include "presets.h"
#include "typing.h"
#include "validate.h"
#include "xalloc.h"

#define DELETED_SUFFIX "@deletion-request.substack.com"

/* Strongest first (see mapping.h). */
static const char *const reason_order[] = {
	"complained", "bounced", "cleaned", "invalid", "blocklisted",
	"unsubscribed", "deleted",
};

static size_t reason_rank(const char *reason)
{
	size_t i, n = sizeof(reason_order) / sizeof(reason_order[0]);

	for (i = 0; i < n; i++)
		if (strcmp(reason_order[i], reason) == 0)
			return i;
	return n;
}

static const char *stronger(const char *a, const char *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return reason_rank(b) < reason_rank(a) ? b : a;
}

/* ASCII white space and U+00A0 (spreadsheets leave it around values). */
static size_t space_at(const char *p, size_t n)
{
	if (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' ||
		  *p == '\v' || *p == '\f'))
		return 1;
	if (n >= 2 && (unsigned char)p[0] == 0xC2 &&
	    (unsigned char)p[1] == 0xA0)
		return 2;
	return 0;
}

static size_t space_before(const char *p, size_t n)
{
	char c;

	if (!n)
		return 0;
	c = p[n - 1];
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f')
		return 1;
	if (n >= 2 && (unsigned char)p[n - 2] == 0xC2 &&
	    (unsigned char)p[n - 1] == 0xA0)
		return 2;
	return 0;
}

const char *mapping_trim(const char *p, size_t n, size_t *out)
{
	size_t k;

	while ((k = space_at(p, n))) {
		p += k;
		n -= k;
	}
	while ((k = space_before(p, n)))
		n -= k;
	*out = n;
	return p;
}

/* Trimmed cell i of row, "" past its end. */
static const char *cell(const struct csv_row *row, size_t i, size_t *n)
{
	if (i >= row->nfields) {
		*n = 0;
		return "";
	}
	return mapping_trim(row->fields[i].data, row->fields[i].len, n);
}

/* ---- records ---------------------------------------------------------- */

void record_init(struct record *rec)
{
	buf_init(&rec->email, BUF_MAX_DEFAULT);
	buf_init(&rec->external_id, BUF_MAX_DEFAULT);
	buf_init(&rec->first_name, BUF_MAX_DEFAULT);
	buf_init(&rec->last_name, BUF_MAX_DEFAULT);
	buf_init(&rec->display_name, BUF_MAX_DEFAULT);
	buf_init(&rec->custom, BUF_MAX_DEFAULT);
	buf_init(&rec->tags, BUF_MAX_DEFAULT);
	rec->suppress = NULL;
	rec->unconfirmed = 0;
	rec->reject = NULL;
	buf_init(&rec->reject_detail, BUF_MAX_DEFAULT);
	buf_init(&rec->scratch, BUF_MAX_DEFAULT);
}

void record_release(struct record *rec)
{
	buf_release(&rec->email);
	buf_release(&rec->external_id);
	buf_release(&rec->first_name);
	buf_release(&rec->last_name);
	buf_release(&rec->display_name);
	buf_release(&rec->custom);
	buf_release(&rec->tags);
	buf_release(&rec->reject_detail);
	buf_release(&rec->scratch);
	record_init(rec);
}

static void record_reset(struct record *rec)
{
	buf_reset(&rec->email);
	buf_reset(&rec->external_id);
	buf_reset(&rec->first_name);
	buf_reset(&rec->last_name);
	buf_reset(&rec->display_name);
	buf_reset(&rec->custom);
	buf_reset(&rec->tags);
	buf_reset(&rec->reject_detail);
	buf_reset(&rec->scratch);
	rec->suppress = NULL;
	rec->unconfirmed = 0;
	rec->reject = NULL;
}

/* Mark rec rejected; always MB_OK (a reject is not an error). */
static enum mb_rc reject(struct record *rec, const char *reason,
			 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum mb_rc reject(struct record *rec, const char *reason,
			 const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	rec->reject = reason;
	buf_reset(&rec->reject_detail);
	buf_addstr(&rec->reject_detail, detail);
	buf_set(&rec->custom, "{}", 2);
	buf_set(&rec->tags, "[]", 2);
	rec->suppress = NULL;
	rec->unconfirmed = 0;
	return MB_OK;
}

/* "column 'First Name'" or, for an unnamed column, "column 3". */
static void column_label(const struct mapping *m, size_t i, char *out,
			 size_t cap)
{
	if (i < m->ncolumns && m->columns[i].header[0])
		snprintf(out, cap, "column '%.*s'", MAPPING_MSG_HEADER_MAX,
			 m->columns[i].header);
	else
		snprintf(out, cap, "column %zu", i + 1);
}

/* ---- tags ------------------------------------------------------------- */

/*
 * Tags are collected in rec->scratch as NUL-terminated strings.  A
 * candidate is appended at the end, cleaned in place, then kept or dropped.
 */
struct tag_ctx {
	struct record *rec;
	enum mb_rc rc;
};

static int tag_seen(const struct buf *b, size_t end, const char *t, size_t n)
{
	size_t at = 0, len;

	while (at < end) {
		len = strlen(b->data + at);
		if (len == n && memcmp(b->data + at, t, n) == 0)
			return 1;
		at += len + 1;
	}
	return 0;
}

/*
 * Keep the candidate appended at scratch[start..]: trimmed, and dropped when
 * empty or seen before.
 */
static enum mb_rc tag_commit(struct buf *b, size_t start)
{
	const char *t;
	size_t len;

	t = mapping_trim(b->data ? b->data + start : "", b->len - start, &len);
	if (len == 0 || tag_seen(b, start, t, len)) {
		b->len = start;
		if (b->data)
			b->data[start] = '\0';
		return MB_OK;
	}
	memmove(b->data + start, t, len);
	b->len = start + len;
	return buf_addch(b, '\0');
}

/* strip: 1 drops surrounding quotes, 2 drops every double quote. */
static enum mb_rc tag_add(struct record *rec, const char *p, size_t n,
			  int strip)
{
	struct buf *b = &rec->scratch;
	size_t start = b->len, i;
	enum mb_rc rc;

	p = mapping_trim(p, n, &n);
	if (strip == 1) {
		while (n && (*p == '"' || *p == '\''))
			p++, n--;
		while (n && (p[n - 1] == '"' || p[n - 1] == '\''))
			n--;
	}
	for (i = 0; i < n; i++) {
		if (strip == 2 && p[i] == '"')
			continue;
		if ((rc = buf_addch(b, p[i])) != MB_OK)
			return rc;
	}
	return tag_commit(b, start);
}

/* Split on any of seps; every piece is a tag. */
static enum mb_rc tags_split(struct record *rec, const char *p, size_t n,
			     const char *seps, int strip)
{
	size_t start = 0, i;
	enum mb_rc rc;

	for (i = 0; i <= n; i++) {
		if (i < n && (!p[i] || !strchr(seps, p[i])))
			continue;
		if ((rc = tag_add(rec, p + start, i - start, strip)) != MB_OK)
			return rc;
		start = i + 1;
	}
	return MB_OK;
}

static void mailchimp_tag(void *ctx, const char *field, size_t len)
{
	struct tag_ctx *t = ctx;

	if (t->rc == MB_OK)
		t->rc = tag_add(t->rec, field, len, 1);
}

/*
 * Mailchimp writes each tag in literal quotes: "A","B" in the decoded
 * cell, read as a one-line CSV.  A cell that is not valid CSV (an odd
 * number of quotes: libcsv would quietly keep the rest of the cell as one
 * field) is read the way Ghost's importer does: drop every quote, split on
 * commas.
 */
static enum mb_rc tags_mailchimp(struct record *rec, const char *p, size_t n)
{
	struct tag_ctx t = { rec, MB_OK };
	struct err ignored = ERR_INIT;
	size_t mark = rec->scratch.len, quotes = 0, i;
	enum mb_rc rc = MB_EDATA;

	for (i = 0; i < n; i++)
		quotes += p[i] == '"';
	if (quotes % 2 == 0)
		rc = csvread_split(p, n, ',', mailchimp_tag, &t, &ignored);
	if (rc == MB_OK)
		return t.rc;
	rec->scratch.len = mark;
	if (rec->scratch.data)
		rec->scratch.data[mark] = '\0';
	return tags_split(rec, p, n, ",", 2);
}

/* One quoted element of a JSON-like list; returns the index after it. */
static size_t json_element(struct record *rec, const char *p, size_t n,
			   size_t i, enum mb_rc *rc)
{
	struct buf *b = &rec->scratch;
	size_t start = b->len;
	char quote = p[i++];

	for (; i < n && p[i] != quote; i++) {
		/* \" \\ \/ decoded; other escapes are kept as written. */
		if (p[i] == '\\' && i + 1 < n && p[i + 1] &&
		    strchr("\"'\\/", p[i + 1]))
			i++;
		if ((*rc = buf_addch(b, p[i])) != MB_OK)
			return n;
	}
	*rc = tag_commit(b, start);
	return i + 1;
}

/* Klaviyo's Shopify Tags: ["vip","swim"] (also ['vip'] and [vip, swim]). */
static enum mb_rc tags_json(struct record *rec, const char *p, size_t n)
{
	enum mb_rc rc = MB_OK;
	size_t i, start;

	if (p[0] != '[')
		return tags_split(rec, p, n, ",;", 0);
	/* A list cut short (a cell limit upstream) still gives its tags. */
	n -= p[n - 1] == ']' && n >= 2 ? 2 : 1;
	p++;
	for (i = 0; i < n && rc == MB_OK;) {
		if (p[i] == ',' || space_at(p + i, n - i)) {
			i += p[i] == ',' ? 1 : space_at(p + i, n - i);
		} else if (p[i] == '"' || p[i] == '\'') {
			i = json_element(rec, p, n, i, &rc);
		} else {
			for (start = i; i < n && p[i] != ','; i++)
				;
			rc = tag_add(rec, p + start, i - start, 0);
		}
	}
	return rc;
}

static enum mb_rc tags_cell(struct record *rec, const struct mapping_column *c,
			    const char *p, size_t n)
{
	switch (c->tags_format) {
	case TAGS_MAILCHIMP:
		return tags_mailchimp(rec, p, n);
	case TAGS_JSON_LIST:
		return tags_json(rec, p, n);
	case TAGS_PIPE:
		return tags_split(rec, p, n, "|", 0);
	case TAGS_LIST:
		break;
	}
	return tags_split(rec, p, n, ",;", 0);
}

/* The collected tags, then the --tag extras, as a JSON array. */
static enum mb_rc tags_finish(const struct mapping *m, struct record *rec)
{
	struct buf *b = &rec->scratch;
	size_t i, at, len;
	enum mb_rc rc = MB_OK;

	for (i = 0; i < m->ntags && rc == MB_OK; i++)
		rc = tag_add(rec, m->tags[i], strlen(m->tags[i]), 0);
	if (rc == MB_OK)
		rc = buf_addch(&rec->tags, '[');
	for (at = 0; at < b->len && rc == MB_OK; at += len + 1) {
		len = strlen(b->data + at);
		if (at && (rc = buf_addch(&rec->tags, ',')) != MB_OK)
			break;
		rc = json_add_string(&rec->tags, b->data + at, len);
	}
	if (rc == MB_OK)
		rc = buf_addch(&rec->tags, ']');
	return rc;
}

/* ---- status ----------------------------------------------------------- */

/* Values that mean "nothing here" in a status column. */
static int is_nullish(const char *loose)
{
	static const char *const words[] = {
		"", "none", "null", "nil", "na", "false", "no", "0", NULL,
	};
	size_t i;

	for (i = 0; words[i]; i++)
		if (strcmp(loose, words[i]) == 0)
			return 1;
	return 0;
}

static int is_true(const char *loose)
{
	return strcmp(loose, "true") == 0 || strcmp(loose, "yes") == 0 ||
		strcmp(loose, "y") == 0 || strcmp(loose, "1") == 0 ||
		strcmp(loose, "t") == 0;
}

static int is_false(const char *loose)
{
	return strcmp(loose, "false") == 0 || strcmp(loose, "no") == 0 ||
		strcmp(loose, "n") == 0 || strcmp(loose, "0") == 0 ||
		strcmp(loose, "f") == 0;
}

/* Klaviyo's Email Suppressions: the strongest reason its words give. */
static const char *suppressions_reason(const char *loose)
{
	const char *reason = "unsubscribed";

	if (strstr(loose, "invalid"))
		reason = stronger(reason, "invalid");
	if (strstr(loose, "bounce"))
		reason = stronger(reason, "bounced");
	if (strstr(loose, "spam") || strstr(loose, "complain"))
		reason = stronger(reason, "complained");
	return reason;
}

static void status_cell(struct record *rec, const struct mapping_column *c,
			const char *p, size_t n)
{
	char value[PRESET_LOOSE_MAX * 4], loose[PRESET_LOOSE_MAX * 4];
	const struct status_word *w;
	const char *reason = NULL;

	/* Status words are short; a long cell is read by its beginning. */
	if (n >= sizeof(value))
		n = sizeof(value) - 1;
	memcpy(value, p, n);
	value[n] = '\0';
	preset_loose(value, loose, sizeof(loose));
	switch (c->rule) {
	case STATUS_VALUE:
	case STATUS_CONSENT:
		w = preset_status_word(c->words, loose);
		if (w) {
			reason = w->reason;
			rec->unconfirmed |= w->unconfirmed;
		}
		break;
	case STATUS_NONEMPTY:
		if (!is_nullish(loose))
			reason = c->reason;
		break;
	case STATUS_TRUE:
		if (is_true(loose))
			reason = c->reason;
		break;
	case STATUS_FALSE:
		if (is_false(loose))
			reason = c->reason;
		break;
	case STATUS_SUPPRESSIONS:
		if (!is_nullish(loose))
			reason = suppressions_reason(loose);
		break;
	}
	rec->suppress = stronger(rec->suppress, reason);
}

/* ---- apply ------------------------------------------------------------ */

/* Row shape: rejected when it has cells the header cannot hold. */
static int shape_ok(const struct mapping *m, const struct csv_row *row,
		    struct record *rec)
{
	size_t i, n;

	for (i = m->ncolumns; i < row->nfields; i++) {
		cell(row, i, &n);
		if (n) {
			reject(rec, "too_many_fields",
			       "row has %zu fields, header has %zu",
			       row->nfields, m->ncolumns);
			return 0;
		}
	}
	/* Missing cells are fine only under unnamed trailing columns. */
	for (i = row->nfields; i < m->ncolumns; i++) {
		if (m->columns[i].header[0]) {
			reject(rec, "too_few_fields",
			       "row has %zu fields, header has %zu",
			       row->nfields, m->ncolumns);
			return 0;
		}
	}
	return 1;
}

static int utf8_ok(const struct mapping *m, const struct csv_row *row,
		   struct record *rec)
{
	char label[MAPPING_MSG_HEADER_MAX + 32];
	size_t i;

	for (i = 0; i < row->nfields; i++) {
		if (validate_utf8(row->fields[i].data, row->fields[i].len))
			continue;
		column_label(m, i, label, sizeof(label));
		reject(rec, "invalid_utf8", "%s is not valid UTF-8", label);
		return 0;
	}
	return 1;
}

/* "Jane Doe <jane@x.com>": the name part, unquoted, or length 0. */
static const char *name_from_address(const char *p, size_t n, size_t *len)
{
	const char *lt = memchr(p, '<', n);

	*len = 0;
	if (!lt || p[n - 1] != '>')
		return p;
	p = mapping_trim(p, (size_t)(lt - p), len);
	if (*len >= 2 && p[0] == '"' && p[*len - 1] == '"') {
		p++;
		*len -= 2;
		p = mapping_trim(p, *len, len);
	}
	return p;
}

/* The email cell: rejects, or rec->email normalised; name from <...>. */
static enum mb_rc email_cell(const struct mapping *m,
			     const struct csv_row *row, struct record *rec)
{
	char label[MAPPING_MSG_HEADER_MAX + 32];
	const char *p, *why, *name;
	size_t n, name_len, len;

	column_label(m, m->email_column, label, sizeof(label));
	p = cell(row, m->email_column, &n);
	if (n == 0)
		return reject(rec, "missing_email", "%s is empty", label);
	why = validate_email(p, n, &rec->email);
	if (why) {
		buf_set(&rec->email, p, n);
		return reject(rec, "invalid_email", "%s: %s", label, why);
	}
	len = strlen(DELETED_SUFFIX);
	if (rec->email.len > len &&
	    memcmp(rec->email.data + rec->email.len - len, DELETED_SUFFIX,
		   len) == 0)
		return reject(rec, "deleted_account",
			      "%s: '%s' stands for a deleted Substack account",
			      label, buf_str(&rec->email));
	name = name_from_address(p, n, &name_len);
	if (name_len)
		return buf_set(&rec->display_name, name, name_len);
	return MB_OK;
}

/* A row with any consent evidence cell gets consent_source. */
static int has_consent_evidence(const struct mapping *m,
				const struct csv_row *row)
{
	size_t i, n;

	for (i = 0; i < m->norder; i++)
		if (m->columns[m->order[i]].consent) {
			cell(row, m->order[i], &n);
			if (n)
				return 1;
		}
	return 0;
}

/*
 * The custom columns in key order (m->order), typed, and consent_source at
 * its place among them when the row has consent evidence: the same bytes
 * the sorting merge (mapping_custom.c) would write, without its per-row
 * allocations and sort.
 */
static enum mb_rc custom_cells(const struct mapping *m,
			       const struct csv_row *row, struct record *rec)
{
	const struct mapping_column *c;
	enum mb_rc rc;
	const char *p;
	size_t i, n;
	int first = 1, evidence;

	if (m->custom_merged)
		return mapping_custom_merged(m, row, rec);
	evidence = m->consent_evidence && has_consent_evidence(m, row);
	if ((rc = buf_addch(&rec->custom, '{')) != MB_OK)
		return rc;
	for (i = 0; i <= m->norder; i++) {
		if (evidence && i == m->consent_order) {
			if ((!first &&
			     (rc = buf_addch(&rec->custom, ',')) != MB_OK) ||
			    (rc = json_add_string(&rec->custom,
					MAPPING_CONSENT_SOURCE,
					strlen(MAPPING_CONSENT_SOURCE))) != MB_OK ||
			    (rc = buf_addch(&rec->custom, ':')) != MB_OK ||
			    (rc = json_add_string(&rec->custom, m->preset,
					strlen(m->preset))) != MB_OK)
				return rc;
			first = 0;
		}
		if (i == m->norder)
			break;
		c = &m->columns[m->order[i]];
		p = cell(row, m->order[i], &n);
		if (n == 0)
			continue;
		if (!first && (rc = buf_addch(&rec->custom, ',')) != MB_OK)
			return rc;
		first = 0;
		if ((rc = buf_addstr(&rec->custom, c->json_key)) != MB_OK ||
		    (rc = typing_add_value(&rec->custom, p, n,
					   m->typing_flags |
					   c->typing_flags)) != MB_OK)
			return rc;
	}
	return buf_addch(&rec->custom, '}');
}

static enum mb_rc role_cell(struct record *rec,
			    const struct mapping_column *c,
			    const char *p, size_t n)
{
	switch (c->role) {
	case FIELD_EXTERNAL_ID:
		return buf_set(&rec->external_id, p, n);
	case FIELD_FIRST_NAME:
		return buf_set(&rec->first_name, p, n);
	case FIELD_LAST_NAME:
		return buf_set(&rec->last_name, p, n);
	case FIELD_DISPLAY_NAME:
		/* A display-name column beats the name in "<...>". */
		return buf_set(&rec->display_name, p, n);
	case FIELD_TAGS:
		return tags_cell(rec, c, p, n);
	case FIELD_STATUS:
		status_cell(rec, c, p, n);
		return MB_OK;
	case FIELD_EMAIL:
	case FIELD_IGNORE:
	case FIELD_CUSTOM:
	case FIELD_ATTRIBUTES:
		break;
	}
	return MB_OK;
}

enum mb_rc mapping_apply(const struct mapping *m, const struct csv_row *row,
			 struct record *rec, struct err *e)
{
	const struct mapping_column *c;
	enum mb_rc rc;
	const char *p;
	size_t i, n;

	record_reset(rec);
	if (row->error)
		return reject(rec, "csv_error", "%s", row->error);
	if (!shape_ok(m, row, rec) || !utf8_ok(m, row, rec)) {
		p = cell(row, m->email_column, &n);
		if (validate_utf8(p, n))
			buf_set(&rec->email, p, n);
		return MB_OK;
	}
	if ((rc = email_cell(m, row, rec)) != MB_OK)
		goto out;
	if (rec->reject)
		return MB_OK;
	rec->suppress = m->file_status;
	rec->unconfirmed = m->file_unconfirmed;
	for (i = 0; i < m->ncolumns && i < row->nfields; i++) {
		c = &m->columns[i];
		if (c->role == FIELD_CUSTOM || c->role == FIELD_IGNORE ||
		    c->role == FIELD_EMAIL || c->role == FIELD_ATTRIBUTES)
			continue;
		p = cell(row, i, &n);
		if (n && (rc = role_cell(rec, c, p, n)) != MB_OK)
			goto out;
	}
	if (rec->suppress)
		rec->unconfirmed = 0;
	if ((rc = custom_cells(m, row, rec)) == MB_OK)
		rc = tags_finish(m, rec);
out:
	if (rc != MB_OK)
		err_set(e, rc, "line %lu: the record is too large to stage",
			row->line);
	return rc;
}
