/*
 * mapping: header row -> column roles (mapping_build), data row -> record
 * (mapping_apply).  The provider knowledge lives in presets.c and the value
 * typing in typing.c; this file applies them.
 *
 * Decisions worth knowing (the header says the rest):
 *   - Preset tables are searched first, then the synonyms every preset
 *     shares (email, names); a role held by one column (email, external_id,
 *     names) goes to the first column that claims it, later ones become
 *     custom fields.  --map overrides win over both.
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
#include <strings.h>

#include "json.h"
#include "presets.h"
#include "typing.h"
#include "validate.h"
#include "xalloc.h"

#define DELETED_SUFFIX "@deletion-request.substack.com"

/* Longest header text quoted in one message. */
#define MSG_HEADER_MAX 200

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

static const char *trim(const char *p, size_t n, size_t *out)
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
	return trim(row->fields[i].data, row->fields[i].len, n);
}

static int is_single_role(enum field_role role)
{
	return role == FIELD_EMAIL || role == FIELD_EXTERNAL_ID ||
		role == FIELD_FIRST_NAME || role == FIELD_LAST_NAME ||
		role == FIELD_DISPLAY_NAME;
}

static const char *role_name(enum field_role role)
{
	switch (role) {
	case FIELD_IGNORE:       return "ignore";
	case FIELD_EMAIL:        return "email";
	case FIELD_EXTERNAL_ID:  return "external_id";
	case FIELD_FIRST_NAME:   return "first_name";
	case FIELD_LAST_NAME:    return "last_name";
	case FIELD_DISPLAY_NAME: return "display_name";
	case FIELD_TAGS:         return "tags";
	case FIELD_STATUS:       return "status";
	case FIELD_CUSTOM:       return "custom";
	}
	return "?";
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
		snprintf(out, cap, "column '%.*s'", MSG_HEADER_MAX,
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

	t = trim(b->data ? b->data + start : "", b->len - start, &len);
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

	p = trim(p, n, &n);
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
	char label[MSG_HEADER_MAX + 32];
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
	p = trim(p, (size_t)(lt - p), len);
	if (*len >= 2 && p[0] == '"' && p[*len - 1] == '"') {
		p++;
		*len -= 2;
		p = trim(p, *len, len);
	}
	return p;
}

/* The email cell: rejects, or rec->email normalised; name from <...>. */
static enum mb_rc email_cell(const struct mapping *m,
			     const struct csv_row *row, struct record *rec)
{
	char label[MSG_HEADER_MAX + 32];
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

static enum mb_rc custom_cells(const struct mapping *m,
			       const struct csv_row *row, struct record *rec)
{
	const struct mapping_column *c;
	enum mb_rc rc;
	const char *p;
	size_t i, n;
	int first = 1;

	if ((rc = buf_addch(&rec->custom, '{')) != MB_OK)
		return rc;
	for (i = 0; i < m->norder; i++) {
		c = &m->columns[m->order[i]];
		p = cell(row, m->order[i], &n);
		if (n == 0)
			continue;
		if (!first && (rc = buf_addch(&rec->custom, ',')) != MB_OK)
			return rc;
		first = 0;
		if ((rc = buf_addstr(&rec->custom, c->json_key)) != MB_OK ||
		    (rc = typing_add_value(&rec->custom, p, n,
					   m->typing_flags)) != MB_OK)
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
		    c->role == FIELD_EMAIL)
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

/* ---- overrides -------------------------------------------------------- */

static const struct {
	const char *name;
	enum field_role role;
} field_names[] = {
	{ "email", FIELD_EMAIL },
	{ "external_id", FIELD_EXTERNAL_ID },
	{ "first_name", FIELD_FIRST_NAME },
	{ "last_name", FIELD_LAST_NAME },
	{ "display_name", FIELD_DISPLAY_NAME },
	{ "tags", FIELD_TAGS },
	{ "status", FIELD_STATUS },
	{ "ignore", FIELD_IGNORE },
};

#define FIELDS_VALID "email, external_id, first_name, last_name, " \
	"display_name, tags, status, ignore, custom:NAME"

static int custom_name_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

enum mb_rc mapping_parse_override(const char *arg, struct mapping_override *ov,
				  struct err *e)
{
	const char *eq = strrchr(arg, '=');
	const char *col, *field;
	size_t ncol, nfield, i;

	if (!eq)
		return err_set(e, MB_EUSAGE,
			       "--map '%s': expected COLUMN=FIELD", arg);
	col = trim(arg, (size_t)(eq - arg), &ncol);
	field = trim(eq + 1, strlen(eq + 1), &nfield);
	if (ncol == 0)
		return err_set(e, MB_EUSAGE,
			       "--map '%s': the column name is empty", arg);
	if (nfield >= 7 && strncasecmp(field, "custom:", 7) == 0) {
		if (nfield == 7)
			return err_set(e, MB_EUSAGE, "--map '%s': name the "
				       "custom field, as in custom:NAME", arg);
		if (!custom_name_ok(field + 7, nfield - 7))
			return err_set(e, MB_EUSAGE, "--map '%s': a "
				       "custom field name is 1 to 128 letters, "
				       "digits or '_'", arg);
		ov->column = xstrndup(col, ncol);
		ov->role = FIELD_CUSTOM;
		ov->custom_key = xstrndup(field + 7, nfield - 7);
		return MB_OK;
	}
	for (i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++) {
		if (strlen(field_names[i].name) == nfield &&
		    strncasecmp(field, field_names[i].name, nfield) == 0) {
			ov->column = xstrndup(col, ncol);
			ov->role = field_names[i].role;
			ov->custom_key = NULL;
			return MB_OK;
		}
	}
	if (nfield == 6 && strncasecmp(field, "custom", 6) == 0)
		return err_set(e, MB_EUSAGE, "--map '%s': name the custom "
			       "field, as in custom:NAME", arg);
	return err_set(e, MB_EUSAGE, "--map '%s': unknown field '%.*s' "
		       "(valid: " FIELDS_VALID ")", arg, (int)nfield, field);
}

void mapping_override_release(struct mapping_override *ov)
{
	free(ov->column);
	free(ov->custom_key);
	ov->column = NULL;
	ov->custom_key = NULL;
	ov->role = FIELD_IGNORE;
}

/* ---- build ------------------------------------------------------------ */

/* Latin-1 letters (U+00C0..U+00FF, UTF-8 C3 80..C3 BF) in ASCII. */
static const char *const latin1_ascii[64] = {
	"a", "a", "a", "a", "a", "a", "ae", "c",
	"e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", NULL,
	"o", "u", "u", "u", "u", "y", "th", "ss",
	"a", "a", "a", "a", "a", "a", "ae", "c",
	"e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", NULL,
	"o", "u", "u", "u", "u", "y", "th", "y",
};

enum mb_rc mapping_snake_key(const char *header, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)header;
	const char *ascii;
	char one[2] = { 0, 0 };
	int gap = 0;
	enum mb_rc rc;

	buf_reset(out);
	for (; *s; s++) {
		ascii = NULL;
		if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) {
			one[0] = (char)*s;
			ascii = one;
		} else if (*s >= 'A' && *s <= 'Z') {
			one[0] = (char)(*s - 'A' + 'a');
			ascii = one;
		} else if (*s == 0xC3 && s[1] >= 0x80 && s[1] <= 0xBF) {
			/* Keys stay readable: "Prénom" -> prenom. */
			ascii = latin1_ascii[*++s - 0x80];
		}
		if (!ascii) {
			gap = 1;
			continue;
		}
		if (gap && out->len && (rc = buf_addch(out, '_')) != MB_OK)
			return rc;
		gap = 0;
		if ((rc = buf_addstr(out, ascii)) != MB_OK)
			return rc;
	}
	return buf_add(out, "", 0);
}

const char *const *mapping_presets(void)
{
	return preset_names();
}

void mapping_release(struct mapping *m)
{
	size_t i;

	for (i = 0; i < m->ncolumns; i++) {
		free(m->columns[i].header);
		free(m->columns[i].key);
		free(m->columns[i].json_key);
	}
	free(m->columns);
	for (i = 0; i < m->ntags; i++)
		free(m->tags[i]);
	free(m->tags);
	free(m->order);
	memset(m, 0, sizeof(*m));
}

/* Where each column's role came from, while building. */
enum origin { FROM_NONE, FROM_OVERRIDE, FROM_PRESET };

struct build {
	const struct preset *preset;
	const char *path;
	enum origin *origin;
	char (*loose)[PRESET_LOOSE_MAX];
	const char **key_hint;   /* preset's custom key, or NULL */
	int taken[FIELD_CUSTOM + 1];
};

static const char *display_path(const char *path)
{
	return path ? path : "input";
}

/* "'A', 'B', 'C'" for messages, cut short on wide header rows. */
static void header_list(const struct mapping *m, struct buf *out)
{
	size_t i, shown = 0;

	for (i = 0; i < m->ncolumns; i++) {
		if (!m->columns[i].header[0])
			continue;
		if (out->len > 480) {
			buf_addstr(out, ", ...");
			return;
		}
		buf_printf(out, "%s'%.*s'", shown++ ? ", " : "", 60,
			   m->columns[i].header);
	}
	if (!shown)
		buf_addstr(out, "none");
}

static void set_column(struct mapping_column *c, const struct preset_column *pc)
{
	c->role = pc->role;
	c->rule = pc->rule;
	c->reason = pc->reason;
	c->words = pc->words;
	c->tags_format = pc->tags;
	c->is_mailchimp_tags = pc->tags == TAGS_MAILCHIMP;
}

static enum mb_rc apply_override(struct mapping *m, struct build *b,
				 const struct mapping_override *ov,
				 struct err *e)
{
	struct buf list = BUF_INIT;
	const struct preset_column *pc;
	struct mapping_column *c;
	size_t i;

	for (i = 0; i < m->ncolumns; i++)
		if (strcasecmp(m->columns[i].header, ov->column) == 0)
			break;
	if (i == m->ncolumns) {
		header_list(m, &list);
		err_set(e, MB_EUSAGE, "--map '%s=...': '%s' has no column "
			"'%s' (headers: %s)", ov->column,
			display_path(b->path), ov->column, buf_str(&list));
		buf_release(&list);
		return MB_EUSAGE;
	}
	c = &m->columns[i];
	if (b->origin[i] == FROM_OVERRIDE)
		return err_set(e, MB_EUSAGE, "--map: column '%s' is mapped "
			       "twice", c->header);
	if (is_single_role(ov->role) && b->taken[ov->role])
		return err_set(e, MB_EUSAGE, "--map: two columns are mapped "
			       "to %s, '%s' is one", role_name(ov->role),
			       c->header);
	/* Keep the preset's reading of a column given its own role. */
	pc = preset_column(b->preset, b->loose[i], c->header);
	if (!pc)
		pc = preset_fallback(b->preset, b->loose[i]);
	if (pc && pc->role == ov->role) {
		set_column(c, pc);
	} else {
		c->role = ov->role;
		c->rule = STATUS_VALUE;
		c->tags_format = TAGS_LIST;
	}
	if (ov->role == FIELD_CUSTOM)
		c->key = xstrdup(ov->custom_key);
	b->origin[i] = FROM_OVERRIDE;
	b->taken[ov->role] = 1;
	return MB_OK;
}

/* Preset table first, then the shared synonyms, for each column. */
static void assign_roles(struct mapping *m, struct build *b)
{
	const struct preset_column *pc;
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < m->ncolumns; i++) {
			if (b->origin[i] != FROM_NONE ||
			    !m->columns[i].header[0])
				continue;
			pc = pass == 0 ? preset_column(b->preset, b->loose[i],
						       m->columns[i].header)
				: preset_fallback(b->preset, b->loose[i]);
			if (!pc)
				continue;
			b->origin[i] = FROM_PRESET;
			/* A second column for a one-column role: custom. */
			if (pc->role == FIELD_CUSTOM ||
			    (is_single_role(pc->role) && b->taken[pc->role])) {
				m->columns[i].role = FIELD_CUSTOM;
				b->key_hint[i] = pc->key;
				continue;
			}
			set_column(&m->columns[i], pc);
			b->taken[pc->role] = 1;
		}
	}
	for (i = 0; i < m->ncolumns; i++)
		if (b->origin[i] == FROM_NONE)
			m->columns[i].role = FIELD_CUSTOM;
}

/*
 * A small string map (open addressing, FNV-1a) for custom_keys: the keys
 * given so far, and for each base key the next suffix to try.  Scanning the
 * columns instead made 10,000 columns with one name take hours (cubic).
 */
struct strmap_entry {
	char *key;               /* owned */
	size_t value;
};

struct strmap {
	struct strmap_entry *slots;
	size_t mask;
};

static void strmap_init(struct strmap *sm, size_t expected)
{
	size_t cap = 16;

	while (cap < 2 * expected + 2)
		cap <<= 1;
	sm->slots = xcalloc(cap, sizeof(*sm->slots));
	sm->mask = cap - 1;
}

static void strmap_release(struct strmap *sm)
{
	size_t i;

	for (i = 0; sm->slots && i <= sm->mask; i++)
		free(sm->slots[i].key);
	free(sm->slots);
	sm->slots = NULL;
}

/* The entry for key, or the empty slot where it would go. */
static struct strmap_entry *strmap_slot(const struct strmap *sm,
					const char *key)
{
	uint64_t h = UINT64_C(14695981039346656037);
	const unsigned char *p;
	size_t i;

	for (p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	for (i = (size_t)h & sm->mask; sm->slots[i].key;
	     i = (i + 1) & sm->mask)
		if (strcmp(sm->slots[i].key, key) == 0)
			break;
	return &sm->slots[i];
}

/* Add key (copied) if absent; the entry either way. */
static struct strmap_entry *strmap_put(struct strmap *sm, const char *key)
{
	struct strmap_entry *slot = strmap_slot(sm, key);

	if (!slot->key)
		slot->key = xstrdup(key);
	return slot;
}

static enum mb_rc custom_keys(struct mapping *m, struct build *b,
			      struct err *e)
{
	struct buf key = BUF_INIT, unique = BUF_INIT;
	struct strmap used, next;
	struct mapping_column *c;
	enum mb_rc rc = MB_OK;
	size_t i, n;

	/* Each map holds at most one entry per column. */
	strmap_init(&used, m->ncolumns);
	strmap_init(&next, m->ncolumns);
	/* --map custom:NAME keys were set first: they keep their name. */
	for (i = 0; i < m->ncolumns; i++)
		if (m->columns[i].key)
			strmap_put(&used, m->columns[i].key);
	for (i = 0; i < m->ncolumns && rc == MB_OK; i++) {
		struct strmap_entry *base;

		c = &m->columns[i];
		if (c->role != FIELD_CUSTOM || c->key)
			continue;
		buf_reset(&key);
		if (b->key_hint[i])
			rc = buf_addstr(&key, b->key_hint[i]);
		else
			rc = mapping_snake_key(c->header, &key);
		if (rc == MB_OK && key.len == 0)
			rc = buf_printf(&key, "column_%zu", i + 1);
		if (rc != MB_OK)
			break;
		/* Suffixes go on from where this base left off. */
		base = strmap_put(&next, key.data);
		for (n = base->value ? base->value : 1; rc == MB_OK; n++) {
			buf_reset(&unique);
			rc = n == 1 ? buf_set(&unique, key.data, key.len)
				: buf_printf(&unique, "%s_%zu", key.data, n);
			if (rc == MB_OK && !strmap_slot(&used,
							unique.data)->key)
				break;
		}
		if (rc == MB_OK) {
			base->value = n + 1;
			strmap_put(&used, unique.data);
			c->key = buf_detach(&unique, NULL);
		}
	}
	strmap_release(&used);
	strmap_release(&next);
	buf_release(&key);
	buf_release(&unique);
	if (rc != MB_OK)
		return err_set(e, rc, "'%s': header too large",
			       display_path(b->path));
	return MB_OK;
}

static int by_key(const void *a, const void *b)
{
	const struct mapping_column *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

/* m->order and each custom column's "key": text. */
static enum mb_rc custom_order(struct mapping *m)
{
	struct mapping_column **sorted;
	struct buf json = BUF_INIT;
	enum mb_rc rc = MB_OK;
	size_t i, n = 0;

	sorted = xcalloc(m->ncolumns + 1, sizeof(*sorted));
	for (i = 0; i < m->ncolumns; i++)
		if (m->columns[i].role == FIELD_CUSTOM)
			sorted[n++] = &m->columns[i];
	qsort(sorted, n, sizeof(*sorted), by_key);
	m->order = xcalloc(n + 1, sizeof(*m->order));
	m->norder = n;
	for (i = 0; i < n && rc == MB_OK; i++) {
		m->order[i] = (size_t)(sorted[i] - m->columns);
		buf_reset(&json);
		if ((rc = json_add_string(&json, sorted[i]->key,
					  strlen(sorted[i]->key))) == MB_OK &&
		    (rc = buf_addch(&json, ':')) == MB_OK)
			sorted[i]->json_key = buf_detach(&json, NULL);
	}
	buf_release(&json);
	free(sorted);
	return rc;
}

/* The header most likely to hold addresses, for the --map hint. */
static const char *email_suggestion(const struct mapping *m,
				    const struct build *b)
{
	static const char *const hints[] = { "email", "mail", "" };
	size_t h, i;

	for (h = 0; h < 3; h++)
		for (i = 0; i < m->ncolumns; i++)
			if (m->columns[i].header[0] &&
			    strstr(b->loose[i], hints[h]))
				return m->columns[i].header;
	return NULL;
}

static enum mb_rc no_email_column(const struct mapping *m,
				  const struct build *b, struct err *e)
{
	struct buf list = BUF_INIT;
	const char *hint = email_suggestion(m, b);
	char quote = hint && strchr(hint, '\'') ? '"' : '\'';

	header_list(m, &list);
	if (hint)
		err_set(e, MB_EDATA, "'%s' has no email column (headers: %s); "
			"tell meisa-bulk which column holds the address with "
			"--map %c%.*s=email%c", display_path(b->path),
			buf_str(&list), quote, MSG_HEADER_MAX, hint, quote);
	else
		err_set(e, MB_EDATA, "'%s' has no email column: its header "
			"row is empty", display_path(b->path));
	buf_release(&list);
	return MB_EDATA;
}

/* Copy the header cells, trimmed (and without a stray BOM). */
static enum mb_rc copy_headers(struct mapping *m, struct build *b,
			       const struct csv_row *header, struct err *e)
{
	const char *p;
	size_t i, n;

	if (header->error)
		return err_set(e, MB_EDATA, "'%s': cannot read the header "
			       "row: %s", display_path(b->path), header->error);
	if (header->nfields == 0)
		return err_set(e, MB_EDATA, "'%s': the header row is empty",
			       display_path(b->path));
	m->ncolumns = header->nfields;
	m->columns = xcalloc(m->ncolumns, sizeof(*m->columns));
	b->origin = xcalloc(m->ncolumns, sizeof(*b->origin));
	b->loose = xcalloc(m->ncolumns, sizeof(*b->loose));
	b->key_hint = xcalloc(m->ncolumns, sizeof(*b->key_hint));
	for (i = 0; i < m->ncolumns; i++) {
		p = header->fields[i].data;
		n = header->fields[i].len;
		if (i == 0 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
			p += 3;
			n -= 3;
		}
		p = trim(p, n, &n);
		m->columns[i].header = xstrndup(p, n);
		preset_loose(m->columns[i].header, b->loose[i],
			     PRESET_LOOSE_MAX);
	}
	return MB_OK;
}

static enum mb_rc copy_tags(struct mapping *m, const struct mapping_opts *o,
			    struct err *e)
{
	const char *p;
	size_t i, n;

	m->tags = xcalloc(o->ntags + 1, sizeof(*m->tags));
	for (i = 0; i < o->ntags; i++) {
		n = strlen(o->tags[i]);
		if (!validate_utf8(o->tags[i], n))
			return err_set(e, MB_EUSAGE, "--tag '%s' is not valid "
				       "UTF-8", o->tags[i]);
		p = trim(o->tags[i], n, &n);
		if (n == 0)
			return err_set(e, MB_EUSAGE, "--tag: the tag name is "
				       "empty");
		m->tags[m->ntags++] = xstrndup(p, n);
	}
	return MB_OK;
}

static enum mb_rc choose_preset(struct build *b, const struct mapping *m,
				const char *name, struct err *e)
{
	const char *const *names;
	struct buf list = BUF_INIT;
	const char **headers;
	size_t i;

	if (!name || strcmp(name, "auto") == 0) {
		headers = xcalloc(m->ncolumns + 1, sizeof(*headers));
		for (i = 0; i < m->ncolumns; i++)
			headers[i] = m->columns[i].header;
		b->preset = preset_detect(b->path, headers, m->ncolumns);
		free(headers);
		return MB_OK;
	}
	if ((b->preset = preset_find(name)))
		return MB_OK;
	for (names = preset_names(); *names; names++)
		buf_printf(&list, "%s%s", list.len ? ", " : "", *names);
	err_set(e, MB_EUSAGE, "unknown preset '%s' (valid: %s)", name,
		buf_str(&list));
	buf_release(&list);
	return MB_EUSAGE;
}

static void build_release(struct build *b)
{
	free(b->origin);
	free(b->loose);
	free(b->key_hint);
}

enum mb_rc mapping_build(struct mapping *m, const struct mapping_opts *opts,
			 const char *path, const struct csv_row *header,
			 struct err *e)
{
	struct mapping built = MAPPING_INIT;
	struct build b;
	enum mb_rc rc;
	const char *status;
	size_t i;
	int unconfirmed;

	memset(&b, 0, sizeof(b));
	b.path = path;
	if ((rc = copy_headers(&built, &b, header, e)) != MB_OK ||
	    (rc = choose_preset(&b, &built, opts->preset, e)) != MB_OK ||
	    (rc = copy_tags(&built, opts, e)) != MB_OK)
		goto out;
	for (i = 0; i < opts->noverrides; i++)
		if ((rc = apply_override(&built, &b, &opts->overrides[i],
					 e)) != MB_OK)
			goto out;
	assign_roles(&built, &b);
	if (!b.taken[FIELD_EMAIL]) {
		rc = no_email_column(&built, &b, e);
		goto out;
	}
	for (i = 0; i < built.ncolumns; i++)
		if (built.columns[i].role == FIELD_EMAIL)
			built.email_column = i;
	if ((rc = custom_keys(&built, &b, e)) != MB_OK)
		goto out;
	if ((rc = custom_order(&built)) != MB_OK) {
		err_set(e, rc, "'%s': header too large", display_path(path));
		goto out;
	}
	built.preset = b.preset->name;
	if (b.preset->flags & PRESET_DMY_DATES)
		built.typing_flags |= TYPING_DMY_DATES;
	if (strcmp(b.preset->name, "mailchimp") == 0 &&
	    preset_mailchimp_file(path, &status, &unconfirmed)) {
		built.file_status = status;
		built.file_unconfirmed = unconfirmed;
	}
	*m = built;
	memset(&built, 0, sizeof(built));
out:
	mapping_release(&built);
	build_release(&b);
	return rc;
}
