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

/* 1 when key is a known trigger (--trigger), 0 not, -1 failure. */
static int trigger_known(struct sandbox_store *st, const char *key,
			 struct err *e)
{
	return sandbox_exists(st, S_TRIGGER_KNOWN, key, e);
}

/* A send with this idempotency key in the last hour: 1 (id set), 0, -1. */
static int idempotent_send(struct sandbox_store *st,
			   const struct sandbox_call *call, const char *key,
			   char id[ID_MAX], struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, S_IDEMPOTENT, e);
	int r;

	if (!s)
		return -1;
	sandbox_bind_str(s, 1, key);
	sandbox_bind_str(s, 2, call->key_label);
	sqlite3_bind_double(s, 3, call->now - 3600.0);
	r = sandbox_step(st, s, e);
	if (r == 1)
		sandbox_col_copy(s, 0, id, ID_MAX);
	sqlite3_reset(s);
	return r;
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
	char id[ID_MAX];
	int r, unsub, scheduled = f[M_SEND_AT].val != NULL;

	unsub = sandbox_unsub_listed(st, f[M_TO].val, e);
	r = unsub ? 0 : sandbox_contact_find(st, S_FIND_EMAIL, f[M_TO].val,
					     f[M_TO].len, &c, e);
	if (unsub < 0 || r < 0)
		return MB_EDB;
	if (unsub || (r == 1 && strcmp(c.status, "active"))) {
		sandbox_answer_detail(call, 422, "Recipient is unsubscribed.");
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

enum mb_rc sandbox_emails_trigger(struct sandbox_store *st,
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

	if ((r = sandbox_body_parse(st, call, f, M_NFIELDS, e)) <= 0) {
		rc = r < 0 ? MB_EDB : MB_OK;
		goto out;
	}
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
	if (r == 1) {
		r = trigger_known(st, f[M_TRIGGER].val, e);
		if (r < 0)
			goto out;
		if (r == 0)
			sandbox_field_error(&fe, "trigger_key",
					    "Unknown trigger \"%s\".",
					    f[M_TRIGGER].val);
	}
	rc = MB_OK;
	if (sandbox_field_errors_answer(&fe, call))
		goto out;
	rc = trigger_send(st, call, f, e);
out:
	buf_release(&fe.json);
	sandbox_fields_release(f, M_NFIELDS);
	return rc;
}

