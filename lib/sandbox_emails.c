/*
 * sandbox_emails: the transactional email endpoint (see the header).
 */
#include "sandbox_emails.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "sandbox_body.h"
#include "sandbox_contacts.h"
#include "sandbox_json.h"
#include "sandbox_stmt.h"

enum {
	M_TRIGGER, M_TO, M_VARIABLES, M_RECIPIENT, M_IDEMPOTENCY, M_SEND_AT,
	M_NFIELDS
};

/*
 * The message id of a send with this idempotency key (and the same API key)
 * in the last hour into id: "" when there is none.
 */
static enum mb_rc idempotent_send(struct sandbox_store *st,
				  const struct sandbox_call *call,
				  const char *key, char id[ID_MAX],
				  struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_IDEMPOTENT, e);
	enum mb_rc rc;
	int row;

	if (!s)
		return MB_EDB;
	sandbox_bind_str(s, 1, key);
	sandbox_bind_str(s, 2, call->key_label);
	sqlite3_bind_double(s, 3, call->now - 3600.0);
	id[0] = '\0';
	rc = sandbox_step(st, s, &row, e);
	if (rc == MB_OK && row)
		sandbox_col_copy(s, 0, id, ID_MAX);
	sqlite3_reset(s);
	return rc;
}

static enum mb_rc record_send(struct sandbox_store *st,
			      struct sandbox_call *call, struct field *f,
			      const char *id, const char *status,
			      struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_SENT_EMAIL, e);
	char now[32];

	if (!s)
		return MB_EDB;
	sandbox_iso_time(call->now, now);
	sandbox_bind_str(s, 1, id);
	sandbox_bind_str(s, 2, f[M_TRIGGER].val);
	sandbox_bind_str(s, 3, f[M_TO].val);
	sandbox_bind_str(s, 4, f[M_IDEMPOTENCY].val);
	sandbox_bind_str(s, 5, call->key_label);
	sandbox_bind_str(s, 6, status);
	sandbox_bind_str(s, 7, f[M_VARIABLES].type == J_OBJECT ?
			 f[M_VARIABLES].val : NULL);
	sandbox_bind_str(s, 8, now);
	sqlite3_bind_double(s, 9, call->now);
	return sandbox_exec(st, s, e);
}

/* Decide and record a send that passed validation. */
static enum mb_rc trigger_send(struct sandbox_store *st,
			       struct sandbox_call *call, struct field *f,
			       struct err *e)
{
	struct contact_ref c;
	char id[ID_MAX] = "";
	int unsub, found = 0, scheduled = f[M_SEND_AT].val != NULL;

	if (sandbox_unsub_listed(st, f[M_TO].val, &unsub, e) != MB_OK ||
	    (!unsub && sandbox_contact_find(st, S_FIND_EMAIL, f[M_TO].val,
					    f[M_TO].len, &c, &found,
					    e) != MB_OK))
		return MB_EDB;
	if (unsub || (found && strcmp(c.status, "active"))) {
		sandbox_answer_detail(call, 422, "Recipient is unsubscribed.");
		return MB_OK;
	}
	if (f[M_IDEMPOTENCY].val &&
	    idempotent_send(st, call, f[M_IDEMPOTENCY].val, id, e) != MB_OK)
		return MB_EDB;
	buf_reset(&call->response);
	if (id[0]) {
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

enum mb_rc sandbox_emails_trigger(struct sandbox_store *st,
				  struct sandbox_call *call, struct err *e)
{
	struct field f[M_NFIELDS] = {
		{ "trigger_key", 0, 0, 0 }, { "to_email", 0, 0, 0 },
		{ "variables", 0, 0, 0 }, { "recipient", 0, 0, 0 },
		{ "idempotency_key", 0, 0, 0 }, { "send_at", 0, 0, 0 },
	};
	struct field_errors fe = FIELD_ERRORS_INIT;
	enum mb_rc rc;
	enum field_check r;
	int known;

	rc = sandbox_body_parse(st, call, f, M_NFIELDS, e);
	if (rc != MB_OK || call->status)
		goto out;
	sandbox_log_email(call, &f[M_TO]);
	r = sandbox_check_string(&fe, &f[M_TRIGGER], REQUIRED, NO_BLANK,
				 MAX_NAME_CHARS);
	sandbox_check_email(&fe, &f[M_TO], REQUIRED);
	sandbox_check_object(&fe, &f[M_VARIABLES]);
	sandbox_check_object(&fe, &f[M_RECIPIENT]);
	sandbox_check_string(&fe, &f[M_IDEMPOTENCY], OPTIONAL, NO_BLANK,
			     MAX_NAME_CHARS);
	sandbox_check_string(&fe, &f[M_SEND_AT], OPTIONAL, NO_BLANK,
			     MAX_NAME_CHARS);
	if (r == CHECK_SET) {
		rc = sandbox_exists(st, S_TRIGGER_KNOWN, f[M_TRIGGER].val,
				    &known, e);
		if (rc != MB_OK)
			goto out;
		if (!known)
			sandbox_field_error(&fe, "trigger_key",
					    "Unknown trigger \"%s\".",
					    f[M_TRIGGER].val);
	}
	if (sandbox_field_errors_answer(&fe, call))
		goto out;
	rc = trigger_send(st, call, f, e);
out:
	buf_release(&fe.json);
	sandbox_fields_release(f, M_NFIELDS);
	return rc;
}

