/*
 * sandbox_stmt: the SQL of meisa-sandbox's endpoints and the helpers that
 * run it.
 *
 * Every statement the endpoint files use has a slot below; sandbox_stmt()
 * hands out the store's cached, reset statement of a slot (see
 * sandbox_store_stmt).  Shared by the endpoint files only.
 */
#ifndef MB_SANDBOX_STMT_H
#define MB_SANDBOX_STMT_H

#include <stddef.h>

#include "err.h"
#include "sandbox_store.h"

/* Statement slots of the endpoints (see sandbox_store_stmt). */
enum {
	S_JSON_TYPE, S_JSON_EACH, S_COUNT_NESTED,
	S_FIND_EXT, S_FIND_EMAIL, S_FIND_ID, S_IS_UNSUB,
	S_INSERT_CONTACT, S_UPDATE_CONTACT, S_TOUCH_CONTACT, S_CONTACT_JSON,
	S_TAG_ENSURE, S_TAG_LINK, S_TAG_UNLINK, S_TAG_BY_ID,
	S_AUTOMATION, S_UNSUB_LIST, S_EVENT,
	S_SEQUENCE, S_ENROLL_STATUS, S_ENROLL_PUT, S_SEQUENCE_LIST,
	S_ENROLLMENTS_OF, S_TRIGGER_KNOWN, S_IDEMPOTENT, S_SENT_EMAIL,
	S_COUNT
};

/* The statement of a slot, or NULL with e filled (a bug in the SQL). */
struct sqlite3_stmt *sandbox_stmt(struct sandbox_store *st, int slot,
				  struct err *e);

/* Step a statement: 1 a row, 0 done, -1 failure (e filled). */
int sandbox_step(struct sandbox_store *st, struct sqlite3_stmt *s,
		 struct err *e);

/* Run a writing statement to its end, then reset it. */
enum mb_rc sandbox_exec(struct sandbox_store *st, struct sqlite3_stmt *s,
			struct err *e);

/* Bind a NUL-terminated string (or NULL) to parameter i, borrowed. */
void sandbox_bind_str(struct sqlite3_stmt *s, int i, const char *p);

/* Copy a text column into a fixed buffer (identifiers, statuses). */
void sandbox_col_copy(struct sqlite3_stmt *s, int i, char *out,
		      size_t size);

/* The statement of slot which has a row for value: 1 yes, 0 no, -1 failure. */
int sandbox_exists(struct sandbox_store *st, int which, const char *value,
		   struct err *e);

#endif
