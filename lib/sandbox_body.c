/*
 * sandbox_body: request bodies parsed and checked the DRF way (see
 * the header).
 */
#include "sandbox_body.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_json.h"
#include "sandbox_stmt.h"
#include "sandbox_validate.h"
#include "xalloc.h"

enum jtype sandbox_jtype_of(const char *t)
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
const char *sandbox_py_type(enum jtype t)
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

void sandbox_fields_release(struct field *f, size_t n)
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

/*
 * The JSON type of the text p[0..n) into *type: J_ABSENT when the text is
 * not JSON.  MB_EDB when the database fails.
 */
static enum mb_rc json_type(struct sandbox_store *st, const char *p,
			    size_t n, enum jtype *type, struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_JSON_TYPE, e);
	enum mb_rc rc = MB_OK;
	int r;

	if (!s)
		return MB_EDB;
	sqlite3_bind_text(s, 1, p, (int)n, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*type = sandbox_jtype_of((const char *)sqlite3_column_text(s,
									   0));
	else if (r == SQLITE_ERROR)
		*type = J_ABSENT;  /* SQLite reports malformed JSON so */
	else
		rc = sandbox_store_fail(st, e, "database error");
	sqlite3_reset(s);
	return rc;
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

/* Answer 400 with DRF's non_field_errors message, msg already JSON. */
static void answer_non_field(struct sandbox_call *call, const char *msg)
{
	call->status = 400;
	buf_reset(&call->response);
	buf_printf(&call->response, "{\"non_field_errors\":[%s]}", msg);
}

/* Answer 400 unless the body (not empty) is a JSON object. */
static enum mb_rc check_object_body(struct sandbox_store *st,
				    struct sandbox_call *call,
				    struct err *e)
{
	enum jtype type = J_ABSENT;
	char msg[96];

	if (json_type(st, call->body, call->body_len, &type, e) != MB_OK)
		return MB_EDB;
	if (type == J_ABSENT) {
		sandbox_answer_detail(call, 400, "JSON parse error - "
				      "malformed JSON");
	} else if (type != J_OBJECT) {
		snprintf(msg, sizeof(msg), "\"Invalid data. Expected a "
			 "dictionary, but got %s.\"", sandbox_py_type(type));
		answer_non_field(call, msg);
	} else if (has_nul_escape(call->body, call->body_len)) {
		answer_non_field(call, "\"Null characters are not allowed.\"");
	}
	return MB_OK;
}

/* Copy the current json_each row of s into its field, if one is named so. */
static void read_field(sqlite3_stmt *s, struct field *fields, size_t n,
		       int *bad_text)
{
	struct field *f;

	f = field_named(fields, n, (const char *)sqlite3_column_text(s, 0));
	if (!f)
		return;
	free(f->val);
	f->type = sandbox_jtype_of((const char *)sqlite3_column_text(s, 1));
	f->val = NULL;
	f->len = 0;
	if (f->type == J_NULL)
		return;
	f->len = (size_t)sqlite3_column_bytes(s, 2);
	f->val = xmalloc(f->len + 1);
	if (f->len)
		memcpy(f->val, sqlite3_column_blob(s, 2), f->len);
	f->val[f->len] = '\0';
	/* SQLite decodes a lone surrogate escape (\ud800) into bytes that
	 * are not UTF-8; they must not reach the database. */
	if (f->type == J_TEXT && !sandbox_utf8_ok(f->val, f->len))
		*bad_text = 1;
}

enum mb_rc sandbox_body_parse(struct sandbox_store *st,
			      struct sandbox_call *call,
			      struct field *fields, size_t n, struct err *e)
{
	sqlite3_stmt *s;
	enum mb_rc rc;
	size_t i;
	int row, bad_text = 0;

	for (i = 0; i < call->body_len; i++)
		if (!isspace((unsigned char)call->body[i]))
			break;
	if (i == call->body_len)
		return MB_OK;
	rc = check_object_body(st, call, e);
	if (rc != MB_OK || call->status)
		return rc;
	if (!(s = sandbox_stmt(st, S_JSON_EACH, e)))
		return MB_EDB;
	sqlite3_bind_text(s, 1, call->body, (int)call->body_len,
			  SQLITE_STATIC);
	while ((rc = sandbox_step(st, s, &row, e)) == MB_OK && row)
		read_field(s, fields, n, &bad_text);
	sqlite3_reset(s);
	if (rc == MB_OK && bad_text)
		sandbox_answer_detail(call, 400,
				      "JSON parse error - a string has a "
				      "lone surrogate escape");
	return rc;
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

size_t sandbox_utf8_chars(const char *p, size_t n)
{
	size_t i, chars = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			chars++;
	return chars;
}

/* Add msg for f to fe: the field is bad. */
static enum field_check bad(struct field_errors *fe, const struct field *f,
			    const char *msg)
{
	sandbox_field_error(fe, f->name, "%s", msg);
	return CHECK_BAD;
}

enum field_check sandbox_check_string(struct field_errors *fe,
				      struct field *f, int required,
				      int blank_ok, size_t max_chars)
{
	if (f->type == J_ABSENT || f->type == J_NULL) {
		if (!required)
			return CHECK_ABSENT;
		return bad(fe, f, f->type == J_NULL ?
			   "This field may not be null." :
			   "This field is required.");
	}
	if (f->type != J_TEXT && f->type != J_INT && f->type != J_REAL)
		return bad(fe, f, "Not a valid string.");
	if (memchr(f->val, '\0', f->len))
		return bad(fe, f, "Null characters are not allowed.");
	trim(f);
	if (!f->len && !blank_ok)
		return bad(fe, f, "This field may not be blank.");
	if (sandbox_utf8_chars(f->val, f->len) > max_chars) {
		sandbox_field_error(fe, f->name,
				    "Ensure this field has no more than %zu "
				    "characters.", max_chars);
		return CHECK_BAD;
	}
	return CHECK_SET;
}

enum field_check sandbox_check_email(struct field_errors *fe,
				     struct field *f, int required)
{
	enum field_check r;
	size_t i;

	r = sandbox_check_string(fe, f, required, NO_BLANK, MAX_EMAIL_CHARS);
	if (r != CHECK_SET)
		return r;
	if (!sandbox_email_ok(f->val, f->len))
		return bad(fe, f, "Enter a valid email address.");
	for (i = 0; i < f->len; i++)
		f->val[i] = (char)tolower((unsigned char)f->val[i]);
	return CHECK_SET;
}

enum field_check sandbox_check_object(struct field_errors *fe,
				      struct field *f)
{
	if (f->type == J_ABSENT || f->type == J_NULL)
		return CHECK_ABSENT;
	if (f->type == J_OBJECT)
		return CHECK_SET;
	sandbox_field_error(fe, f->name,
			    "Expected a dictionary of items but got type "
			    "\"%s\".", sandbox_py_type(f->type));
	return CHECK_BAD;
}

enum field_check sandbox_check_bool(struct field_errors *fe,
				    struct field *f, int *out)
{
	static const char *const yes[] = { "true", "True", "1", "yes", "on" };
	static const char *const no[] = { "false", "False", "0", "no", "off" };
	size_t i;

	*out = f->type == J_TRUE;
	if (f->type == J_ABSENT)
		return CHECK_ABSENT;
	if (f->type == J_TRUE || f->type == J_FALSE)
		return CHECK_SET;
	for (i = 0; (f->type == J_TEXT || f->type == J_INT) && i < 5; i++) {
		if (!strcmp(f->val, yes[i]) || !strcmp(f->val, no[i])) {
			*out = !strcmp(f->val, yes[i]);
			return CHECK_SET;
		}
	}
	return bad(fe, f, "Must be a valid boolean.");
}

/* Start the log's emails array with one address (as the client sent it). */
void sandbox_log_email(struct sandbox_call *call, const struct field *f)
{
	buf_reset(&call->emails);
	if (f->type != J_TEXT)
		return;
	buf_addch(&call->emails, '[');
	sandbox_json_add(&call->emails, f->val, f->len);
	buf_addch(&call->emails, ']');
}

