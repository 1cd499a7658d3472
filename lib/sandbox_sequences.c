/*
 * sandbox_sequences: the sequence endpoints (see the header).
 */
#include "sandbox_sequences.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_body.h"
#include "sandbox_contacts.h"
#include "sandbox_json.h"
#include "sandbox_stmt.h"
#include "sandbox_validate.h"
#include "xalloc.h"

#define MAX_BULK_EMAILS 500

/*
 * The status column of the row of statement slot for key (and key2 when
 * not NULL) into out: "" when there is no row.
 */
static enum mb_rc status_of(struct sandbox_store *st, int slot,
			    const char *key, const char *key2, char out[16],
			    struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, slot, e);
	enum mb_rc rc;
	int row;

	if (!s)
		return MB_EDB;
	sandbox_bind_str(s, 1, key);
	if (key2)
		sandbox_bind_str(s, 2, key2);
	out[0] = '\0';
	rc = sandbox_step(st, s, &row, e);
	if (rc == MB_OK && row)
		sandbox_col_copy(s, 0, out, 16);
	sqlite3_reset(s);
	return rc;
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
	char status[16];
	sqlite3_stmt *s;
	int found, unsub;

	if (sandbox_contact_find(st, S_FIND_EMAIL, email, strlen(email), &c,
				 &found, e) != MB_OK ||
	    sandbox_unsub_listed(st, email, &unsub, e) != MB_OK)
		return MB_EDB;
	if ((unsub || (found && strcmp(c.status, "active"))) &&
	    !in->override_unsubscribe) {
		*outcome = SUPPRESSED;
		return MB_OK;
	}
	if (status_of(st, S_ENROLL_STATUS, email, in->slug, status,
		      e) != MB_OK)
		return MB_EDB;
	if (!strcmp(status, "active") || !strcmp(status, "paused")) {
		*outcome = ALREADY_ENROLLED;
		return MB_OK;
	}
	cin.email = email;
	if (!found && sandbox_contact_create(st, &cin, in->now, &c, e) != MB_OK)
		return MB_EDB;
	if (!(s = sandbox_stmt(st, S_ENROLL_PUT, e)))
		return MB_EDB;
	sandbox_bind_str(s, 1, email);
	sandbox_bind_str(s, 2, in->slug);
	sandbox_bind_str(s, 3, in->now);
	sandbox_bind_str(s, 4, c.id);
	sandbox_bind_str(s, 5, in->trigger_source);
	sandbox_bind_str(s, 6, in->metadata);
	*outcome = ENROLLED;
	return sandbox_exec(st, s, e);
}

enum {
	E_EMAIL, E_SLUG, E_METADATA, E_TRIGGER_SOURCE, E_OVERRIDE, E_NFIELDS
};

static void enroll_answer(struct sandbox_call *call,
			  const struct enroll_in *in, const char *email,
			  enum enroll_outcome outcome)
{
	switch (outcome) {
	case ENROLLED:
		call->status = 201;
		buf_reset(&call->response);
		buf_addstr(&call->response, "{\"status\":\"enrolled\","
			   "\"email\":");
		sandbox_json_str(&call->response, email);
		buf_addstr(&call->response, ",\"sequence_slug\":");
		sandbox_json_str(&call->response, in->slug);
		buf_printf(&call->response, ",\"enrolled_at\":\"%s\"}",
			   in->now);
		break;
	case SUPPRESSED:
		sandbox_answer_detail(call, 422, "Contact is unsubscribed.");
		break;
	default:
		call->status = 400;
		buf_reset(&call->response);
		buf_addstr(&call->response, "{\"non_field_errors\":[\"Contact "
			   "is already enrolled in this sequence.\"]}");
	}
}

/*
 * Check a sequence_slug field: the call is answered (missing_status 404 or
 * 400 for a missing sequence, 400 for one not active) unless it is active.
 */
static enum mb_rc check_sequence(struct sandbox_store *st,
				 struct sandbox_call *call, struct field *f,
				 int missing_status, struct err *e)
{
	struct field_errors fe = FIELD_ERRORS_INIT;
	char status[16];

	if (status_of(st, S_SEQUENCE, f->val, NULL, status, e) != MB_OK)
		return MB_EDB;
	if (!status[0] && missing_status == 404)
		sandbox_answer_detail(call, 404, "Sequence not found.");
	else if (!status[0])
		sandbox_field_error(&fe, f->name,
				    "Sequence \"%s\" does not exist.",
				    f->val);
	else if (strcmp(status, "active"))
		sandbox_field_error(&fe, f->name,
				    "Sequence \"%s\" is not active.", f->val);
	sandbox_field_errors_answer(&fe, call);
	return MB_OK;
}

enum mb_rc sandbox_sequences_enroll(struct sandbox_store *st,
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
	enum mb_rc rc;
	char now[32];

	sandbox_iso_time(call->now, now);
	in.now = now;
	rc = sandbox_body_parse(st, call, f, E_NFIELDS, e);
	if (rc != MB_OK || call->status)
		goto out;
	sandbox_log_email(call, &f[E_EMAIL]);
	sandbox_check_email(&fe, &f[E_EMAIL], REQUIRED);
	sandbox_check_string(&fe, &f[E_SLUG], REQUIRED, NO_BLANK,
			     MAX_NAME_CHARS);
	sandbox_check_object(&fe, &f[E_METADATA]);
	sandbox_check_string(&fe, &f[E_TRIGGER_SOURCE], OPTIONAL, NO_BLANK,
			     MAX_NAME_CHARS);
	sandbox_check_bool(&fe, &f[E_OVERRIDE], &in.override_unsubscribe);
	if (sandbox_field_errors_answer(&fe, call))
		goto out;
	rc = check_sequence(st, call, &f[E_SLUG], 404, e);
	if (rc != MB_OK || call->status)
		goto out;
	in.slug = f[E_SLUG].val;
	if (f[E_TRIGGER_SOURCE].val)
		in.trigger_source = f[E_TRIGGER_SOURCE].val;
	if (f[E_METADATA].type == J_OBJECT)
		in.metadata = f[E_METADATA].val;
	rc = enroll_one(st, &in, f[E_EMAIL].val, &outcome, e);
	if (rc == MB_OK)
		enroll_answer(call, &in, f[E_EMAIL].val, outcome);
out:
	buf_release(&fe.json);
	sandbox_fields_release(f, E_NFIELDS);
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

/* Copy the current json_each row of s into item. */
static void read_item(sqlite3_stmt *s, struct item *item)
{
	const char *v = (const char *)sqlite3_column_text(s, 2);

	item->type = sandbox_jtype_of((const char *)sqlite3_column_text(s, 1));
	item->len = v ? (size_t)sqlite3_column_bytes(s, 2) : 4;
	item->val = xstrndup(v ? v : "null", item->len);
}

/*
 * Copy the elements of the JSON array text p out of SQLite first, so that
 * no statement of this module is held in the middle of a walk while the
 * caller runs others.  On MB_OK *out (freed with items_free) holds *count
 * items; on failure nothing is written.
 */
static enum mb_rc read_items(struct sandbox_store *st, const char *p,
			     size_t n, struct item **out, size_t *count,
			     struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_JSON_EACH, e);
	struct item *items = NULL;
	size_t k = 0;
	enum mb_rc rc;
	int row;

	if (!s)
		return MB_EDB;
	sqlite3_bind_text(s, 1, p, (int)n, SQLITE_STATIC);
	while ((rc = sandbox_step(st, s, &row, e)) == MB_OK && row) {
		items = xrealloc(items, (k + 1) * sizeof(*items));
		read_item(s, &items[k++]);
	}
	sqlite3_reset(s);
	if (rc != MB_OK) {
		items_free(items, k);
		return rc;
	}
	*out = items;
	*count = k;
	return MB_OK;
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
	if (sandbox_check_email(&fe, &one, REQUIRED) == CHECK_BAD)
		*outcome = INVALID_EMAIL;
	else
		rc = enroll_one(st, in, one.val, outcome, e);
	sandbox_fields_release(&one, 1);
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
	enum mb_rc rc;
	size_t n = 0, k;

	rc = read_items(st, emails->val, emails->len, &items, &n, e);
	for (k = 0; rc == MB_OK && k < n; k++) {
		rc = enroll_item(st, in, &items[k], &outcome, e);
		if (rc != MB_OK)
			break;
		*(outcome == ENROLLED ? enrolled : skipped) += 1;
		/* The address as sent (json_add replaces any byte that is
		 * not UTF-8: a lone surrogate escape decodes to such). */
		buf_addstr(results, k ? ",{\"email\":" : "{\"email\":");
		sandbox_json_add(results, items[k].val, items[k].len);
		buf_printf(results, ",\"status\":\"%s\"}",
			   outcome_names[outcome]);
	}
	items_free(items, n);
	return rc;
}

/*
 * emails: a non-empty list of at most 500 items.  A bad value is a message
 * in fe; MB_EDB when the database fails.
 */
static enum mb_rc check_email_list(struct sandbox_store *st,
				   struct field_errors *fe, struct field *f,
				   struct err *e)
{
	sqlite3_stmt *s;
	enum mb_rc rc;
	int row, count = 0;

	if (f->type == J_ABSENT || f->type == J_NULL) {
		sandbox_field_error(fe, f->name, f->type == J_NULL ?
				    "This field may not be null." :
				    "This field is required.");
		return MB_OK;
	}
	if (f->type != J_ARRAY) {
		sandbox_field_error(fe, f->name,
				    "Expected a list of items but got type "
				    "\"%s\".", sandbox_py_type(f->type));
		return MB_OK;
	}
	if (!(s = sandbox_stmt(st, S_JSON_EACH, e)))
		return MB_EDB;
	sqlite3_bind_text(s, 1, f->val, (int)f->len, SQLITE_STATIC);
	while ((rc = sandbox_step(st, s, &row, e)) == MB_OK && row)
		count++;
	sqlite3_reset(s);
	if (rc != MB_OK)
		return rc;
	if (!count)
		sandbox_field_error(fe, f->name, "This list may not be empty.");
	else if (count > MAX_BULK_EMAILS)
		sandbox_field_error(fe, f->name,
				    "Ensure this field has no more than %d "
				    "elements.", MAX_BULK_EMAILS);
	return MB_OK;
}

enum { B_SLUG, B_EMAILS, B_OVERRIDE, B_NFIELDS };

enum mb_rc sandbox_sequences_bulk_enroll(struct sandbox_store *st,
					 struct sandbox_call *call,
					 struct err *e)
{
	struct field f[B_NFIELDS] = {
		{ "sequence_slug", 0, 0, 0 }, { "emails", 0, 0, 0 },
		{ "override_unsubscribe", 0, 0, 0 },
	};
	struct field_errors fe = FIELD_ERRORS_INIT;
	struct enroll_in in = { NULL, 0, "bulk", NULL, NULL };
	struct buf results = BUF_INIT;
	long enrolled = 0, skipped = 0;
	enum mb_rc rc;
	char now[32];

	sandbox_iso_time(call->now, now);
	in.now = now;
	rc = sandbox_body_parse(st, call, f, B_NFIELDS, e);
	if (rc != MB_OK || call->status)
		goto out;
	if (f[B_EMAILS].type == J_ARRAY)
		buf_set(&call->emails, f[B_EMAILS].val, f[B_EMAILS].len);
	sandbox_check_string(&fe, &f[B_SLUG], REQUIRED, NO_BLANK,
			     MAX_NAME_CHARS);
	rc = check_email_list(st, &fe, &f[B_EMAILS], e);
	sandbox_check_bool(&fe, &f[B_OVERRIDE], &in.override_unsubscribe);
	if (rc != MB_OK || sandbox_field_errors_answer(&fe, call))
		goto out;
	rc = check_sequence(st, call, &f[B_SLUG], 400, e);
	if (rc != MB_OK || call->status)
		goto out;
	in.slug = f[B_SLUG].val;
	rc = bulk_enroll_all(st, &in, &f[B_EMAILS], &results, &enrolled,
			     &skipped, e);
	if (rc != MB_OK)
		goto out;
	call->status = 200;
	buf_reset(&call->response);
	buf_addstr(&call->response, "{\"sequence_slug\":");
	sandbox_json_str(&call->response, in.slug);
	buf_printf(&call->response, ",\"enrolled\":%ld,\"skipped\":%ld,"
		   "\"results\":[", enrolled, skipped);
	buf_add(&call->response, results.data, results.len);
	buf_addstr(&call->response, "]}");
out:
	buf_release(&results);
	buf_release(&fe.json);
	sandbox_fields_release(f, B_NFIELDS);
	return rc;
}

/* Append the sequence of the current S_SEQUENCE_LIST row of s. */
static void add_sequence_row(struct buf *rows, sqlite3_stmt *s, long n)
{
	static const char *const names[] = { "slug", "name", "status" };
	int i;

	if (n)
		buf_addch(rows, ',');
	buf_addch(rows, '{');
	for (i = 0; i < 3; i++) {
		buf_printf(rows, "%s\"%s\":", i ? "," : "", names[i]);
		sandbox_json_str(rows, (const char *)sqlite3_column_text(s, i));
	}
	buf_addch(rows, '}');
}

enum mb_rc sandbox_sequences_list(struct sandbox_store *st,
				  struct sandbox_call *call, struct err *e)
{
	struct buf status = BUF_INIT, search = BUF_INIT, rows = BUF_INIT;
	sqlite3_stmt *s;
	enum mb_rc rc = MB_EDB;
	long count = 0;
	int row, has_status;

	has_status = sandbox_query_get(call->query, "status", &status);
	sandbox_query_get(call->query, "search", &search);
	if (has_status && strcmp(buf_str(&status), "all") &&
	    strcmp(buf_str(&status), "active") &&
	    strcmp(buf_str(&status), "paused")) {
		call->status = 400;
		buf_reset(&call->response);
		buf_addstr(&call->response, "{\"status\":[");
		buf_printf(&rows, "\"%s\" is not a valid choice.",
			   buf_str(&status));
		sandbox_json_add(&call->response, rows.data, rows.len);
		buf_addstr(&call->response, "]}");
		rc = MB_OK;
		goto out;
	}
	if (!(s = sandbox_stmt(st, S_SEQUENCE_LIST, e)))
		goto out;
	if (!has_status)
		sandbox_bind_str(s, 1, "active");
	else if (strcmp(buf_str(&status), "all"))
		sandbox_bind_str(s, 1, buf_str(&status));
	if (search.len)
		sandbox_bind_str(s, 2, buf_str(&search));
	while ((rc = sandbox_step(st, s, &row, e)) == MB_OK && row)
		add_sequence_row(&rows, s, count++);
	sqlite3_reset(s);
	if (rc != MB_OK)
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

enum mb_rc sandbox_sequences_contact_enrollments(struct sandbox_store *st,
						 struct sandbox_call *call,
						 struct err *e)
{
	struct field email = { "email", J_TEXT, NULL, 0 };
	struct field_errors fe = FIELD_ERRORS_INIT;
	struct buf value = BUF_INIT;
	sqlite3_stmt *s;
	enum mb_rc rc = MB_OK;
	long count = 0;
	int row;

	if (!sandbox_query_get(call->query, "email", &value))
		email.type = J_ABSENT;
	email.len = value.len;
	email.val = buf_detach(&value, NULL);
	if (sandbox_check_email(&fe, &email, REQUIRED) == CHECK_BAD ||
	    sandbox_field_errors_answer(&fe, call))
		goto out;
	rc = MB_EDB;
	if (!(s = sandbox_stmt(st, S_ENROLLMENTS_OF, e)))
		goto out;
	sandbox_bind_str(s, 1, email.val);
	buf_reset(&call->response);
	buf_addstr(&call->response, "{\"email\":");
	sandbox_json_str(&call->response, email.val);
	buf_addstr(&call->response, ",\"enrollments\":[");
	while ((rc = sandbox_step(st, s, &row, e)) == MB_OK && row) {
		buf_addstr(&call->response, count++ ?
			   ",{\"sequence_slug\":" : "{\"sequence_slug\":");
		sandbox_json_str(&call->response,
				 (const char *)sqlite3_column_text(s, 0));
		buf_addstr(&call->response, ",\"status\":");
		sandbox_json_str(&call->response,
				 (const char *)sqlite3_column_text(s, 1));
		buf_addch(&call->response, '}');
	}
	sqlite3_reset(s);
	if (rc != MB_OK)
		goto out;
	buf_addstr(&call->response, "]}");
	call->status = 200;
out:
	sandbox_field_errors_answer(&fe, call);
	sandbox_fields_release(&email, 1);
	return rc;
}

