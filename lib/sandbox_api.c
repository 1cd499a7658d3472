/*
 * sandbox_api: Meisa's endpoints for meisa-sandbox (see the header): the
 * scopes, ping, the route table and the checks every call gets.
 *
 * The endpoints live one concept a file: sandbox_contacts.c (upsert, tags,
 * the unsubscribed list, events), sandbox_sequences.c (enroll, bulk-enroll,
 * lists), sandbox_emails.c (trigger).  They share sandbox_body.c (bodies
 * parsed by SQLite's JSON functions into a small table of fields, then
 * checked field by field the way Django REST Framework serializers do),
 * sandbox_json.c (the answers), sandbox_stmt.c (the SQL) and
 * sandbox_validate.c (UTF-8, email and query string checks).
 *
 * Results: every function that can fail returns enum mb_rc and fills the
 * struct err; a client's mistake is not a failure but an answer, and a
 * handler knows a helper answered the call when call->status is set.
 */
#include "sandbox_api.h"

#include <string.h>
#include <strings.h>

#include "sandbox_body.h"
#include "sandbox_contacts.h"
#include "sandbox_emails.h"
#include "sandbox_json.h"
#include "sandbox_sequences.h"
#include "sandbox_validate.h"

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

/* ---- routing ------------------------------------------------------------ */

static const struct sandbox_route routes[] = {
	{ "/ping/", "GET", 0, h_ping },
	{ "/contacts/upsert/", "POST", SANDBOX_SCOPE_CONTACTS_WRITE,
	  sandbox_contacts_upsert },
	{ "/contacts/api/unsubscribed-emails/", "GET",
	  SANDBOX_SCOPE_CONTACTS_READ, sandbox_contacts_unsubscribed },
	{ "/contacts/*/add_tag/", "POST", SANDBOX_SCOPE_CONTACTS_WRITE,
	  sandbox_contacts_add_tag },
	{ "/contacts/*/remove_tag/", "POST", SANDBOX_SCOPE_CONTACTS_WRITE,
	  sandbox_contacts_remove_tag },
	{ "/events/track/", "POST", SANDBOX_SCOPE_EVENTS_TRACK,
	  sandbox_events_track },
	{ "/sequences/enroll/", "POST", SANDBOX_SCOPE_SEQUENCES_ENROLL,
	  sandbox_sequences_enroll },
	{ "/sequences/api/bulk-enroll/", "POST",
	  SANDBOX_SCOPE_SEQUENCES_ENROLL, sandbox_sequences_bulk_enroll },
	{ "/sequences/api/list/", "GET", SANDBOX_SCOPE_SEQUENCES_READ,
	  sandbox_sequences_list },
	{ "/sequences/api/contact-enrollments/", "GET",
	  SANDBOX_SCOPE_SEQUENCES_READ,
	  sandbox_sequences_contact_enrollments },
	{ "/emails/trigger/", "POST", SANDBOX_SCOPE_EMAILS_TRIGGER,
	  sandbox_emails_trigger },
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
			sandbox_answer_detail(call, 415,
					      "Unsupported media type "
					      "\"%s\" in request.",
					      call->content_type ?
					      call->content_type : "");
			return MB_OK;
		}
		if (!sandbox_utf8_ok(call->body, call->body_len) ||
		    memchr(call->body, '\0', call->body_len)) {
			sandbox_answer_detail(call, 400,
					      "JSON parse error - the body "
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
