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

/* A sequence's status into out: 1 found, 0 not, -1 failure. */
static int sequence_status(struct sandbox_store *st, const char *slug,
			   char out[16], struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_SEQUENCE, e);
	int r;

	if (!s)
		return -1;
	sandbox_bind_str(s, 1, slug);
	r = sandbox_step(st, s, e);
	if (r == 1)
		sandbox_col_copy(s, 0, out, 16);
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

	found = sandbox_contact_find(st, S_FIND_EMAIL, email, strlen(email), &c,
				     e);
	unsub = found < 0 ? -1 : sandbox_unsub_listed(st, email, e);
	if (unsub < 0 || !(s = sandbox_stmt(st, S_ENROLL_STATUS, e)))
		return MB_EDB;
	if ((unsub || (found && strcmp(c.status, "active"))) &&
	    !in->override_unsubscribe) {
		*outcome = SUPPRESSED;
		return MB_OK;
	}
	sandbox_bind_str(s, 1, email);
	sandbox_bind_str(s, 2, in->slug);
	r = sandbox_step(st, s, e);
	if (r == 1)
		sandbox_col_copy(s, 0, status, sizeof(status));
	sqlite3_reset(s);
	if (r < 0)
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
		sandbox_answer_detail(call, 404, "Sequence not found.");
		return 0;
	}
	if (r == 0)
		sandbox_field_error(&fe, f->name,
				    "Sequence \"%s\" does not exist.",
				    f->val);
	else if (strcmp(status, "active"))
		sandbox_field_error(&fe, f->name,
				    "Sequence \"%s\" is not active.", f->val);
	return sandbox_field_errors_answer(&fe, call) ? 0 : 1;
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
	enum mb_rc rc = MB_EDB;
	char now[32];
	int r;

	sandbox_iso_time(call->now, now);
	in.now = now;
	if ((r = sandbox_body_parse(st, call, f, E_NFIELDS, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	sandbox_log_email(call, &f[E_EMAIL]);
	sandbox_check_email(&fe, &f[E_EMAIL], REQUIRED);
	sandbox_check_string(&fe, &f[E_SLUG], REQUIRED, NO_BLANK,
			     MAX_NAME_CHARS);
	sandbox_check_object(&fe, &f[E_METADATA]);
	sandbox_check_string(&fe, &f[E_TRIGGER_SOURCE], OPTIONAL, NO_BLANK,
			     MAX_NAME_CHARS);
	sandbox_check_bool(&fe, &f[E_OVERRIDE], &in.override_unsubscribe);
	rc = MB_OK;
	if (sandbox_field_errors_answer(&fe, call))
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

/*
 * Copy the elements of the JSON array text p out of SQLite first, so that
 * no statement of this module is held in the middle of a walk while the
 * caller runs others.  Returns the count, or -1 on failure.
 */
static long read_items(struct sandbox_store *st, const char *p, size_t n,
		       struct item **out, struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_JSON_EACH, e);
	struct item *items = NULL;
	const char *v;
	long count = 0;
	int r;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, p, (int)n, SQLITE_STATIC);
	while ((r = sandbox_step(st, s, e)) == 1) {
		items = xrealloc(items, (size_t)(count + 1) * sizeof(*items));
		v = (const char *)sqlite3_column_text(s, 2);
		items[count].type = sandbox_jtype_of((const char *)
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
	if (sandbox_check_email(&fe, &one, REQUIRED) < 0)
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
		sandbox_json_add(results, items[k].val, items[k].len);
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
		sandbox_field_error(fe, f->name, f->type == J_NULL ?
				    "This field may not be null." :
				    "This field is required.");
		return -1;
	}
	if (f->type != J_ARRAY) {
		sandbox_field_error(fe, f->name,
				    "Expected a list of items but got type "
				    "\"%s\".", sandbox_py_type(f->type));
		return -1;
	}
	if (!(s = sandbox_stmt(st, S_JSON_EACH, e)))
		return -2;
	sqlite3_bind_text(s, 1, f->val, (int)f->len, SQLITE_STATIC);
	while ((r = sandbox_step(st, s, e)) == 1)
		count++;
	sqlite3_reset(s);
	if (r < 0)
		return -2;
	if (!count) {
		sandbox_field_error(fe, f->name, "This list may not be empty.");
		return -1;
	}
	if (count > MAX_BULK_EMAILS) {
		sandbox_field_error(fe, f->name,
				    "Ensure this field has no more than %d "
				    "elements.", MAX_BULK_EMAILS);
		return -1;
	}
	return 1;
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
	enum mb_rc rc = MB_EDB;
	char now[32];
	int r;

	sandbox_iso_time(call->now, now);
	in.now = now;
	if ((r = sandbox_body_parse(st, call, f, B_NFIELDS, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
	if (f[B_EMAILS].type == J_ARRAY)
		buf_set(&call->emails, f[B_EMAILS].val, f[B_EMAILS].len);
	sandbox_check_string(&fe, &f[B_SLUG], REQUIRED, NO_BLANK,
			     MAX_NAME_CHARS);
	if (check_email_list(st, &fe, &f[B_EMAILS], e) == -2)
		goto out;
	sandbox_check_bool(&fe, &f[B_OVERRIDE], &in.override_unsubscribe);
	rc = MB_OK;
	if (sandbox_field_errors_answer(&fe, call))
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
	sandbox_json_str(&call->response, in.slug);
	buf_printf(&call->response, ",\"enrolled\":%ld,\"skipped\":%ld,"
		   "\"results\":[", enrolled, skipped);
	buf_add(&call->response, results.data, results.len);
	buf_addstr(&call->response, "]}");
	rc = MB_OK;
out:
	buf_release(&results);
	buf_release(&fe.json);
	sandbox_fields_release(f, B_NFIELDS);
	return rc;
}

enum mb_rc sandbox_sequences_list(struct sandbox_store *st,
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
	while ((r = sandbox_step(st, s, e)) == 1) {
		buf_addstr(&rows, count++ ? ",{\"slug\":" : "{\"slug\":");
		sandbox_json_str(&rows, (const char *)sqlite3_column_text(s,
									  0));
		buf_addstr(&rows, ",\"name\":");
		sandbox_json_str(&rows, (const char *)sqlite3_column_text(s,
									  1));
		buf_addstr(&rows, ",\"status\":");
		sandbox_json_str(&rows, (const char *)sqlite3_column_text(s,
									  2));
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

enum mb_rc sandbox_sequences_contact_enrollments(struct sandbox_store *st,
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
	if (sandbox_check_email(&fe, &email, REQUIRED) < 0 ||
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
	while ((r = sandbox_step(st, s, e)) == 1) {
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
	if (r < 0)
		goto out;
	buf_addstr(&call->response, "]}");
	call->status = 200;
	rc = MB_OK;
out:
	sandbox_field_errors_answer(&fe, call);
	sandbox_fields_release(&email, 1);
	return rc;
}

