/*
 * sandbox_body: the JSON bodies of meisa-sandbox's requests, parsed and
 * checked field by field the way Django REST Framework serializers do.
 *
 * An endpoint declares its fields (struct field with only the name set),
 * sandbox_body_parse() fills them from the body, then the sandbox_check_*
 * functions validate each one, collecting DRF's messages in a struct
 * field_errors that the endpoint answers with.  Shared by the endpoint
 * files only.
 */
#ifndef MB_SANDBOX_BODY_H
#define MB_SANDBOX_BODY_H

#include <stddef.h>

#include "err.h"
#include "sandbox_api.h"
#include "sandbox_json.h"
#include "sandbox_store.h"

#define MAX_NAME_CHARS 255
#define MAX_EMAIL_CHARS 254
#define MAX_TAG_CHARS 100

/* A JSON value's type, as SQLite's json_type() names them. */
enum jtype {
	J_ABSENT, J_NULL, J_TRUE, J_FALSE, J_INT, J_REAL, J_TEXT, J_ARRAY,
	J_OBJECT
};

struct field {
	const char *name;
	enum jtype type;
	char *val;               /* decoded text, number text or JSON text */
	size_t len;
};

/* The type SQLite's json_type() names t; J_ABSENT for anything else. */
enum jtype sandbox_jtype_of(const char *t);

/* The Python type name DRF puts in its messages. */
const char *sandbox_py_type(enum jtype t);

/* Free the values of f[0..n) and mark them absent (names are kept). */
void sandbox_fields_release(struct field *f, size_t n);

/*
 * Parse the body as a JSON object into fields[] (absent ones stay J_ABSENT;
 * unknown keys are ignored and, as in Python, the last of duplicated keys
 * wins).  An empty body is an empty object, as DRF reads it.  call->status
 * must be 0 on entry.  MB_OK with call->status still 0 when the fields are
 * ready; MB_OK with call->status 400 when the body was answered (not JSON,
 * not an object, a NUL or lone surrogate escape); MB_EDB when the database
 * fails.
 */
enum mb_rc sandbox_body_parse(struct sandbox_store *st,
			      struct sandbox_call *call,
			      struct field *fields, size_t n, struct err *e);

/* The number of UTF-8 characters in p[0..n) (counting lead bytes). */
size_t sandbox_utf8_chars(const char *p, size_t n);

enum { OPTIONAL = 0, REQUIRED = 1 };
enum { NO_BLANK = 0, BLANK_OK = 1 };

/*
 * What a field check found.  Not a result code: a bad value is the
 * client's mistake, which the check records as DRF's message in fe.
 */
enum field_check {
	CHECK_BAD = -1,          /* a message was added to fe */
	CHECK_ABSENT = 0,        /* absent or null, and allowed to be */
	CHECK_SET = 1,           /* a usable value */
};

/*
 * A DRF CharField: strings, and numbers taken as their text; trimmed in
 * place.  CHECK_SET with the value in f->val.
 */
enum field_check sandbox_check_string(struct field_errors *fe,
				      struct field *f, int required,
				      int blank_ok, size_t max_chars);

/* An EmailField: a string, then Django's validator; stored lower case. */
enum field_check sandbox_check_email(struct field_errors *fe,
				     struct field *f, int required);

/* A DictField (or null): CHECK_SET for an object. */
enum field_check sandbox_check_object(struct field_errors *fe,
				      struct field *f);

/*
 * A BooleanField, with DRF's accepted spellings, into *out (always
 * written: absent and bad are false).
 */
enum field_check sandbox_check_bool(struct field_errors *fe,
				    struct field *f, int *out);

/* Start the log's emails array with one address (as the client sent it). */
void sandbox_log_email(struct sandbox_call *call, const struct field *f);

#endif
