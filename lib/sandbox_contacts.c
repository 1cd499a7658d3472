/*
 * sandbox_contacts: the contact, tag and event endpoints (see the header).
 */
#include "sandbox_contacts.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_body.h"
#include "sandbox_json.h"
#include "sandbox_stmt.h"
#include "sandbox_validate.h"
#include "xalloc.h"

enum mb_rc sandbox_contact_find(struct sandbox_store *st, int slot,
				const char *key, size_t key_len,
				struct contact_ref *c, int *found,
				struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, slot, e);
	enum mb_rc rc;

	if (!s)
		return MB_EDB;
	sqlite3_bind_text(s, 1, key, (int)key_len, SQLITE_STATIC);
	rc = sandbox_step(st, s, found, e);
	if (rc == MB_OK && *found) {
		sandbox_col_copy(s, 0, c->id, sizeof(c->id));
		sandbox_col_copy(s, 1, c->email, sizeof(c->email));
		sandbox_col_copy(s, 2, c->status, sizeof(c->status));
	}
	sqlite3_reset(s);
	return rc;
}

enum mb_rc sandbox_unsub_listed(struct sandbox_store *st, const char *email,
				int *listed, struct err *e)
{
	return sandbox_exists(st, S_IS_UNSUB, email, listed, e);
}

static enum mb_rc automation(struct sandbox_store *st, const char *kind,
			     const char *contact_id, const char *email,
			     const char *detail, const char *now,
			     struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_AUTOMATION, e);

	if (!s)
		return MB_EDB;
	sandbox_bind_str(s, 1, kind);
	sandbox_bind_str(s, 2, contact_id);
	sandbox_bind_str(s, 3, email);
	sandbox_bind_str(s, 4, detail);
	sandbox_bind_str(s, 5, now);
	return sandbox_exec(st, s, e);
}

/* Create a contact; an address on the unsubscribed list stays so. */
enum mb_rc sandbox_contact_create(struct sandbox_store *st,
				  const struct contact_in *in,
				  const char *now, struct contact_ref *c,
				  struct err *e)
{
	sqlite3_stmt *s;
	int unsub;

	if (sandbox_unsub_listed(st, in->email, &unsub, e) != MB_OK ||
	    !(s = sandbox_stmt(st, S_INSERT_CONTACT, e)))
		return MB_EDB;
	sandbox_store_uuid(st, c->id);
	snprintf(c->email, sizeof(c->email), "%s", in->email);
	snprintf(c->status, sizeof(c->status), "%s",
		 unsub ? "unsubscribed" : "active");
	sandbox_bind_str(s, 1, c->id);
	sandbox_bind_str(s, 2, in->email);
	sandbox_bind_str(s, 3, in->external_id);
	sandbox_bind_str(s, 4, in->first_name);
	sandbox_bind_str(s, 5, in->last_name);
	sandbox_bind_str(s, 6, in->display_name);
	sandbox_bind_str(s, 7, in->custom_fields);
	sandbox_bind_str(s, 8, in->source);
	sandbox_bind_str(s, 9, c->status);
	sandbox_bind_str(s, 10, now);
	if (sandbox_exec(st, s, e) != MB_OK)
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
	sqlite3_stmt *s = sandbox_stmt(st, S_UPDATE_CONTACT, e);

	if (!s)
		return MB_EDB;
	sandbox_bind_str(s, 1, c->id);
	sandbox_bind_str(s, 2, in->email);
	sandbox_bind_str(s, 3, in->external_id);
	sandbox_bind_str(s, 4, in->first_name);
	sandbox_bind_str(s, 5, in->last_name);
	sandbox_bind_str(s, 6, in->display_name);
	sandbox_bind_str(s, 7, in->custom_fields);
	sandbox_bind_str(s, 8, now);
	if (sandbox_exec(st, s, e) != MB_OK)
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
	sqlite3_stmt *s = sandbox_stmt(st, S_TAG_ENSURE, e);

	if (!s)
		return MB_EDB;
	sandbox_bind_str(s, 1, name);
	if (sandbox_exec(st, s,
			 e) != MB_OK || !(s = sandbox_stmt(st, S_TAG_LINK, e)))
		return MB_EDB;
	sandbox_bind_str(s, 1, c->id);
	sandbox_bind_str(s, 2, name);
	if (sandbox_exec(st, s, e) != MB_OK)
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
	sqlite3_stmt *s = sandbox_stmt(st, S_TOUCH_CONTACT, e);

	if (!s)
		return MB_EDB;
	sandbox_bind_str(s, 1, c->id);
	sandbox_bind_str(s, 2, now);
	return sandbox_exec(st, s, e);
}

/* Answer status with the full contact, as upsert returns it. */
static enum mb_rc answer_contact(struct sandbox_store *st,
				 struct sandbox_call *call, int status,
				 const char *id, struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_CONTACT_JSON, e);
	enum mb_rc rc;
	int row;

	if (!s)
		return MB_EDB;
	sandbox_bind_str(s, 1, id);
	rc = sandbox_step(st, s, &row, e);
	if (rc == MB_OK && row) {
		call->status = status;
		buf_set(&call->response, sqlite3_column_text(s, 0),
			(size_t)sqlite3_column_bytes(s, 0));
	}
	sqlite3_reset(s);
	if (rc == MB_OK && !row)
		rc = err_set(e, MB_EINTERNAL, "contact '%s' vanished", id);
	return rc;
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

/* Add the json_each row of s to out when it is a valid tag name. */
static int take_tag(sqlite3_stmt *s, struct tag_list *out)
{
	const char *v = (const char *)sqlite3_column_text(s, 2);
	size_t len = (size_t)sqlite3_column_bytes(s, 2);

	if (sandbox_jtype_of((const char *)sqlite3_column_text(s, 1)) !=
	    J_TEXT || !len || memchr(v, '\0', len) ||
	    !sandbox_utf8_ok(v, len) ||
	    sandbox_utf8_chars(v, len) > MAX_TAG_CHARS)
		return 0;
	out->names = xrealloc(out->names, (out->count + 1) *
			      sizeof(*out->names));
	out->names[out->count++] = xstrndup(v, len);
	return 1;
}

/*
 * tag_names: a list of non-blank strings (or null), copied to out.  A bad
 * value is a message in fe; MB_EDB when the database fails.
 */
static enum mb_rc check_tags(struct sandbox_store *st,
			     struct field_errors *fe, struct field *f,
			     struct tag_list *out, struct err *e)
{
	sqlite3_stmt *s;
	enum mb_rc rc;
	int row, bad = 0;

	if (f->type == J_ABSENT || f->type == J_NULL)
		return MB_OK;
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
		if (!take_tag(s, out))
			bad = 1;
	sqlite3_reset(s);
	if (rc == MB_OK && bad)
		sandbox_field_error(fe, f->name,
				    "Each tag name must be a non-empty string "
				    "of at most %d characters.", MAX_TAG_CHARS);
	return rc;
}

/*
 * custom_fields: an object whose values are scalars (or null).  A bad
 * value is a message in fe; MB_EDB when the database fails.
 */
static enum mb_rc check_custom_fields(struct sandbox_store *st,
				      struct field_errors *fe,
				      struct field *f, struct err *e)
{
	sqlite3_stmt *s;
	enum mb_rc rc;
	int row, nested = 0;

	if (sandbox_check_object(fe, f) != CHECK_SET)
		return MB_OK;
	if (!(s = sandbox_stmt(st, S_COUNT_NESTED, e)))
		return MB_EDB;
	sqlite3_bind_text(s, 1, f->val, (int)f->len, SQLITE_STATIC);
	rc = sandbox_step(st, s, &row, e);
	if (rc == MB_OK && row)
		nested = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	if (rc == MB_OK && nested)
		sandbox_field_error(fe, f->name,
				    "Values must be strings, numbers, "
				    "booleans or null.");
	return rc;
}

/* source: one of the choices Meisa knows. */
static enum field_check check_source(struct field_errors *fe,
				     struct field *f)
{
	static const char *const sources[] = {
		"api", "import", "manual", "signup", "initial_sync",
	};
	enum field_check r;
	size_t i;

	r = sandbox_check_string(fe, f, OPTIONAL, NO_BLANK, MAX_NAME_CHARS);
	if (r != CHECK_SET)
		return r;
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (!strcmp(f->val, sources[i]))
			return CHECK_SET;
	sandbox_field_error(fe, f->name, "\"%s\" is not a valid choice.",
			    f->val);
	return CHECK_BAD;
}

enum {
	U_EMAIL, U_EXTERNAL_ID, U_FIRST, U_LAST, U_DISPLAY, U_SOURCE,
	U_CUSTOM, U_TAGS, U_NFIELDS
};

/*
 * Find the contact an upsert addresses: external_id first, then email;
 * *found says whether there is one.  The call is answered 400 instead
 * when the external_id's contact would be re-keyed to another's email.
 */
static enum mb_rc upsert_target(struct sandbox_store *st,
				struct sandbox_call *call,
				const struct contact_in *in,
				struct contact_ref *c, int *found,
				struct err *e)
{
	struct contact_ref other;
	struct field_errors fe = FIELD_ERRORS_INIT;
	int taken;

	*found = 0;
	if (in->external_id &&
	    sandbox_contact_find(st, S_FIND_EXT, in->external_id,
				 strlen(in->external_id), c, found,
				 e) != MB_OK)
		return MB_EDB;
	if (!*found)
		return sandbox_contact_find(st, S_FIND_EMAIL, in->email,
					    strlen(in->email), c, found, e);
	if (!strcmp(c->email, in->email))
		return MB_OK;
	if (sandbox_contact_find(st, S_FIND_EMAIL, in->email,
				 strlen(in->email), &other, &taken,
				 e) != MB_OK)
		return MB_EDB;
	if (taken) {
		sandbox_field_error(&fe, "email", "A contact with this email "
				    "already exists.");
		sandbox_field_errors_answer(&fe, call);
	}
	return MB_OK;
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

	sandbox_iso_time(call->now, now);
	if (upsert_target(st, call, in, &c, &found, e) != MB_OK)
		return MB_EDB;
	if (call->status)
		return MB_OK;
	if (found ? update_contact(st, in, now, &c, &changed, e) :
	    sandbox_contact_create(st, in, now, &c, e))
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

enum mb_rc sandbox_contacts_upsert(struct sandbox_store *st,
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
	enum mb_rc rc;

	rc = sandbox_body_parse(st, call, f, U_NFIELDS, e);
	if (rc != MB_OK || call->status)
		goto out;
	sandbox_log_email(call, &f[U_EMAIL]);
	sandbox_check_email(&fe, &f[U_EMAIL], REQUIRED);
	sandbox_check_string(&fe, &f[U_EXTERNAL_ID], OPTIONAL, NO_BLANK,
			     MAX_NAME_CHARS);
	sandbox_check_string(&fe, &f[U_FIRST], OPTIONAL, BLANK_OK,
			     MAX_NAME_CHARS);
	sandbox_check_string(&fe, &f[U_LAST], OPTIONAL, BLANK_OK,
			     MAX_NAME_CHARS);
	sandbox_check_string(&fe, &f[U_DISPLAY], OPTIONAL, BLANK_OK,
			     MAX_NAME_CHARS);
	check_source(&fe, &f[U_SOURCE]);
	rc = check_custom_fields(st, &fe, &f[U_CUSTOM], e);
	if (rc == MB_OK)
		rc = check_tags(st, &fe, &f[U_TAGS], &tags, e);
	if (rc != MB_OK || sandbox_field_errors_answer(&fe, call))
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
	sandbox_fields_release(f, U_NFIELDS);
	return rc;
}

enum mb_rc sandbox_contacts_unsubscribed(struct sandbox_store *st,
					 struct sandbox_call *call,
					 struct err *e)
{
	struct buf emails = BUF_INIT;
	sqlite3_stmt *s = sandbox_stmt(st, S_UNSUB_LIST, e);
	char now[32];
	long count = 0;
	enum mb_rc rc;
	int row;

	if (!s)
		return MB_EDB;
	while ((rc = sandbox_step(st, s, &row, e)) == MB_OK && row) {
		if (count++)
			buf_addch(&emails, ',');
		sandbox_json_add(&emails,
				 (const char *)sqlite3_column_text(s, 0),
				 (size_t)sqlite3_column_bytes(s, 0));
	}
	sqlite3_reset(s);
	if (rc == MB_OK) {
		sandbox_iso_time(call->now, now);
		buf_reset(&call->response);
		buf_printf(&call->response, "{\"as_of\":\"%s\",\"count\":%ld,"
			   "\"emails\":[", now, count);
		buf_add(&call->response, emails.data, emails.len);
		buf_addstr(&call->response, "]}");
		call->status = 200;
	}
	buf_release(&emails);
	return rc;
}

/*
 * The tag a tag_name or tag_id designates into *out (owned by the
 * caller), or the call answered 400 or 404 instead.
 */
static enum mb_rc tag_of(struct sandbox_store *st, struct sandbox_call *call,
			 struct field *name, struct field *id, char **out,
			 struct err *e)
{
	struct field_errors fe = FIELD_ERRORS_INIT;
	sqlite3_stmt *s;
	enum mb_rc rc;
	int row;

	if (name->type != J_ABSENT && name->type != J_NULL) {
		if (sandbox_check_string(&fe, name, REQUIRED, NO_BLANK,
					 MAX_TAG_CHARS) == CHECK_SET)
			*out = xstrdup(name->val);
		sandbox_field_errors_answer(&fe, call);
		return MB_OK;
	}
	if (id->type == J_ABSENT || id->type == J_NULL) {
		sandbox_field_error(&fe, "non_field_errors",
				    "Provide tag_name or tag_id.");
		sandbox_field_errors_answer(&fe, call);
		return MB_OK;
	}
	if (!(s = sandbox_stmt(st, S_TAG_BY_ID, e)))
		return MB_EDB;
	sqlite3_bind_text(s, 1, id->val, (int)id->len, SQLITE_STATIC);
	rc = sandbox_step(st, s, &row, e);
	if (rc == MB_OK && row)
		*out = xstrdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (rc == MB_OK && !row)
		sandbox_answer_detail(call, 404, "Tag not found.");
	return rc;
}

static enum mb_rc tag_call(struct sandbox_store *st,
			   struct sandbox_call *call, int add, struct err *e)
{
	struct field f[2] = { { "tag_name", 0, 0, 0 }, { "tag_id", 0, 0, 0 } };
	struct contact_ref c;
	sqlite3_stmt *s;
	char now[32], *tag = NULL;
	enum mb_rc rc;
	int found, changed = 0;

	sandbox_iso_time(call->now, now);
	rc = sandbox_contact_find(st, S_FIND_ID, call->id, strlen(call->id),
				  &c, &found, e);
	if (rc != MB_OK || !found) {
		if (rc == MB_OK)
			sandbox_answer_detail(call, 404, "Not found.");
		return rc;
	}
	buf_reset(&call->emails);
	buf_addch(&call->emails, '[');
	sandbox_json_str(&call->emails, c.email);
	buf_addch(&call->emails, ']');
	rc = sandbox_body_parse(st, call, f, 2, e);
	if (rc == MB_OK && !call->status)
		rc = tag_of(st, call, &f[0], &f[1], &tag, e);
	if (rc != MB_OK || call->status)
		goto out;
	rc = MB_EDB;
	if (add) {
		if (add_tag(st, &c, tag, now, &changed, e) != MB_OK)
			goto out;
	} else {
		if (!(s = sandbox_stmt(st, S_TAG_UNLINK, e)))
			goto out;
		sandbox_bind_str(s, 1, c.id);
		sandbox_bind_str(s, 2, tag);
		if (sandbox_exec(st, s, e) != MB_OK)
			goto out;
		changed = sqlite3_changes(st->db) > 0;
	}
	if (changed && touch_contact(st, &c, now, e) != MB_OK)
		goto out;
	rc = answer_contact(st, call, 200, c.id, e);
out:
	free(tag);
	sandbox_fields_release(f, 2);
	return rc;
}

enum mb_rc sandbox_contacts_add_tag(struct sandbox_store *st,
				    struct sandbox_call *call, struct err *e)
{
	return tag_call(st, call, 1, e);
}

enum mb_rc sandbox_contacts_remove_tag(struct sandbox_store *st,
				       struct sandbox_call *call, struct err *e)
{
	return tag_call(st, call, 0, e);
}

enum { T_EVENT, T_EMAIL, T_EXTERNAL_ID, T_PROPERTIES, T_NFIELDS };

/* The contact an event is for: external_id first, then email. */
static enum mb_rc event_contact(struct sandbox_store *st, struct field *f,
				struct contact_ref *c, int *found,
				struct err *e)
{
	enum mb_rc rc = MB_OK;

	*found = 0;
	if (f[T_EXTERNAL_ID].val)
		rc = sandbox_contact_find(st, S_FIND_EXT, f[T_EXTERNAL_ID].val,
					  f[T_EXTERNAL_ID].len, c, found, e);
	if (rc == MB_OK && !*found && f[T_EMAIL].val)
		rc = sandbox_contact_find(st, S_FIND_EMAIL, f[T_EMAIL].val,
					  f[T_EMAIL].len, c, found, e);
	return rc;
}

/* Store an event for contact c and answer it. */
static enum mb_rc record_event(struct sandbox_store *st,
			       struct sandbox_call *call, struct field *f,
			       const struct contact_ref *c, struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_EVENT, e);
	char now[32];

	if (!s)
		return MB_EDB;
	sandbox_iso_time(call->now, now);
	if (!call->emails.len) {
		/* Found by external_id alone: log the contact's address. */
		buf_addch(&call->emails, '[');
		sandbox_json_str(&call->emails, c->email);
		buf_addch(&call->emails, ']');
	}
	sandbox_bind_str(s, 1, c->id);
	sandbox_bind_str(s, 2, f[T_EVENT].val);
	sandbox_bind_str(s, 3, f[T_PROPERTIES].type == J_OBJECT ?
			 f[T_PROPERTIES].val : NULL);
	sandbox_bind_str(s, 4, now);
	if (sandbox_exec(st, s, e) != MB_OK)
		return MB_EDB;
	call->status = 200;
	buf_reset(&call->response);
	buf_printf(&call->response, "{\"status\":\"tracked\","
		   "\"contact_id\":\"%s\",\"event_name\":", c->id);
	sandbox_json_str(&call->response, f[T_EVENT].val);
	buf_printf(&call->response, ",\"timestamp\":\"%s\"}", now);
	return MB_OK;
}

enum mb_rc sandbox_events_track(struct sandbox_store *st,
				struct sandbox_call *call, struct err *e)
{
	struct field f[T_NFIELDS] = {
		{ "event_name", 0, 0, 0 }, { "email", 0, 0, 0 },
		{ "external_id", 0, 0, 0 }, { "properties", 0, 0, 0 },
	};
	struct field_errors fe = FIELD_ERRORS_INIT;
	struct contact_ref c;
	enum mb_rc rc;
	enum field_check email, ext;
	int found;

	rc = sandbox_body_parse(st, call, f, T_NFIELDS, e);
	if (rc != MB_OK || call->status)
		goto out;
	sandbox_log_email(call, &f[T_EMAIL]);
	sandbox_check_string(&fe, &f[T_EVENT], REQUIRED, NO_BLANK,
			     MAX_NAME_CHARS);
	email = sandbox_check_email(&fe, &f[T_EMAIL], OPTIONAL);
	ext = sandbox_check_string(&fe, &f[T_EXTERNAL_ID], OPTIONAL, NO_BLANK,
				   MAX_NAME_CHARS);
	sandbox_check_object(&fe, &f[T_PROPERTIES]);
	if (email == CHECK_ABSENT && ext == CHECK_ABSENT)
		sandbox_field_error(&fe, "non_field_errors", "Provide email or "
				    "external_id.");
	if (sandbox_field_errors_answer(&fe, call))
		goto out;
	rc = event_contact(st, f, &c, &found, e);
	if (rc == MB_OK && !found)
		sandbox_answer_detail(call, 404, "Contact not found. Upsert "
				      "the contact first.");
	else if (rc == MB_OK)
		rc = record_event(st, call, f, &c, e);
out:
	buf_release(&fe.json);
	sandbox_fields_release(f, T_NFIELDS);
	return rc;
}

