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

/*
 * Step a statement: MB_OK with *row 1 (a row to read) or 0 (done), else
 * MB_EDB with SQLite's message in e (then *row is not written).
 */
enum mb_rc sandbox_step(struct sandbox_store *st, struct sqlite3_stmt *s,
			int *row, struct err *e);

/* Run a writing statement to its end, then reset it; MB_EDB on failure. */
enum mb_rc sandbox_exec(struct sandbox_store *st, struct sqlite3_stmt *s,
			struct err *e);

/* Bind a NUL-terminated string (or NULL) to parameter i, borrowed. */
void sandbox_bind_str(struct sqlite3_stmt *s, int i, const char *p);

/* Copy a text column into a fixed buffer (identifiers, statuses). */
void sandbox_col_copy(struct sqlite3_stmt *s, int i, char *out,
		      size_t size);

/*
 * Whether the statement of slot, bound to value, has a row: *yes 1 or 0
 * on MB_OK; MB_EDB on failure.
 */
enum mb_rc sandbox_exists(struct sandbox_store *st, int slot,
			  const char *value, int *yes, struct err *e);

#endif
