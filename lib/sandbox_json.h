/*
 * sandbox_json: writing the JSON of meisa-sandbox's answers.
 *
 * Shared by the endpoint files (sandbox_api.c, sandbox_contacts.c,
 * sandbox_sequences.c, sandbox_emails.c).  Answers are built in buffers
 * with the default cap (64 MiB): a full unsubscribed list of a million
 * addresses still fits and nothing else comes close, so appends are not
 * checked one by one.
 */
#ifndef MB_SANDBOX_JSON_H
#define MB_SANDBOX_JSON_H

#include <stddef.h>

#include "buf.h"
#include "sandbox_api.h"

/*
 * Append a JSON string literal of p[0..n).  Bytes that are not UTF-8 (from
 * a URL, a header, a query string) become U+FFFD: an answer is always
 * valid JSON text.
 */
void sandbox_json_add(struct buf *out, const char *p, size_t n);

/* sandbox_json_add() of a NUL-terminated string. */
void sandbox_json_str(struct buf *out, const char *s);

/* Answer status with {"detail": message}, message formatted as printf. */
void sandbox_answer_detail(struct sandbox_call *call, int status,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Field errors, DRF style: {"field": ["message"], ...}.  One message per
 * field is enough for a client, which shows the body as it is.
 */
struct field_errors {
	struct buf json;         /* "field":["msg"],... without the braces */
	int count;
};

#define FIELD_ERRORS_INIT { BUF_INIT, 0 }

/* Add a message (formatted as printf) for field. */
void sandbox_field_error(struct field_errors *fe, const char *field,
			 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Answer 400 with the collected errors; 1 if there were any.  Either way
 * fe is released (and can be reused).
 */
int sandbox_field_errors_answer(struct field_errors *fe,
				struct sandbox_call *call);

/* Format t (unix seconds) as ISO 8601 UTC with milliseconds, as Meisa. */
void sandbox_iso_time(double t, char out[32]);

#endif
