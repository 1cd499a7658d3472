/*
 * sandbox_api: the Meisa endpoints of meisa-sandbox, without the transport.
 *
 * The server (sandbox.c) finds the route of a path, checks the key, its
 * scope and the rate, then hands the request to sandbox_api_handle(), which
 * validates the body as Meisa (Django REST Framework) does, applies it to
 * the store and writes the answer.  Shapes and messages follow
 * shared/meisa-api.md; the assumed ones exactly as written there:
 *
 *   400  {"field": ["message", ...], ...}   or {"detail": "..."} for JSON
 *        syntax, {"non_field_errors": [...]} for rules across fields
 *   401, 403, 404, 405, 415, 422, 429, 5xx   {"detail": "message"}
 *
 * Emails are stored trimmed and in lower case, and matched that way.
 * Upsert: the contact is found by external_id first, then by email; found
 * by external_id with another email, it is re-keyed to the new address
 * (400 if another contact holds it); found by email, a given external_id
 * replaces its own.  Names are overwritten only when sent (null: not sent);
 * custom_fields are merged as a JSON merge patch (a null value removes the
 * key); tags are only added; source is kept from creation; an address on
 * the unsubscribed list is created with status "unsubscribed".  Only a
 * real change updates updated_at and records contact_updated.  201 on
 * creation, 200 otherwise.  Contact ids are UUIDs (version 7).
 *
 * All calls must be serialised by the caller (the store is not thread-safe).
 */
#ifndef MB_SANDBOX_API_H
#define MB_SANDBOX_API_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "sandbox_store.h"

enum sandbox_scope {
	SANDBOX_SCOPE_CONTACTS_READ = 1u << 0,
	SANDBOX_SCOPE_CONTACTS_WRITE = 1u << 1,
	SANDBOX_SCOPE_EVENTS_TRACK = 1u << 2,
	SANDBOX_SCOPE_SEQUENCES_READ = 1u << 3,
	SANDBOX_SCOPE_SEQUENCES_ENROLL = 1u << 4,
	SANDBOX_SCOPE_EMAILS_TRIGGER = 1u << 5,
	SANDBOX_SCOPE_TAGS_WRITE = 1u << 6,      /* authorises nothing */
};

#define SANDBOX_SCOPE_ALL 0x7fu

/* "contacts:write" for one scope bit; NULL for anything else. */
const char *sandbox_scope_name(unsigned scope);

/* The scope bit named p[0..n), or 0 when there is no such scope. */
unsigned sandbox_scope_lookup(const char *p, size_t n);

struct sandbox_call;

typedef enum mb_rc (*sandbox_handler_fn)(struct sandbox_store *st,
					 struct sandbox_call *call,
					 struct err *e);

struct sandbox_route {
	const char *path;        /* relative to /api/v1; "*": one segment */
	const char *method;      /* "GET" (also answers HEAD) or "POST" */
	unsigned scope;          /* scope needed; 0: any valid key */
	sandbox_handler_fn handler;
};

/*
 * The route serving path (relative to /api/v1, e.g. "/ping/"), or NULL
 * (404).  For a path with a "*" segment, the segment is copied to id (at
 * most id_size - 1 bytes; a longer segment matches no route).
 */
const struct sandbox_route *sandbox_api_route(const char *path, char *id,
					      size_t id_size);

/* 1 when method is served by route (GET routes also take HEAD), else 0. */
int sandbox_api_method_ok(const struct sandbox_route *route,
			  const char *method);

struct sandbox_call {
	/* the request, borrowed from the caller */
	const struct sandbox_route *route;
	const char *method;
	const char *id;            /* the "*" path segment, or "" */
	const char *query;         /* raw query string, or NULL */
	const char *content_type;  /* Content-Type header, or NULL */
	const char *body;
	size_t body_len;
	const char *key_label;     /* "key1"... */
	unsigned scopes;           /* the key's scopes */
	int live;                  /* a live key (else test) */
	double now;                /* unix seconds */
	/* the answer, owned by the call */
	int status;
	struct buf response;       /* JSON */
	struct buf emails;         /* JSON array of the emails concerned */
};

#define SANDBOX_CALL_INIT { NULL, NULL, "", NULL, NULL, NULL, 0, NULL, 0, \
	0, 0.0, 0, BUF_INIT, BUF_INIT }

/* Free the answer; the call can then be reused. */
void sandbox_call_release(struct sandbox_call *call);

/*
 * Serve one call: content type and body checks, then the route's handler.
 * Client mistakes are answers (call->status 4xx), not failures.  A failure
 * (MB_EDB...) means a broken database or a bug: e says what, call->status is
 * 500 and the response a JSON detail, and the caller should roll back.
 */
enum mb_rc sandbox_api_handle(struct sandbox_store *st,
			      struct sandbox_call *call, struct err *e);

/* Set out to {"detail": detail} (detail escaped). */
void sandbox_api_detail(struct buf *out, const char *detail);

#endif
