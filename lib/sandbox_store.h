/*
 * sandbox_store: meisa-sandbox's state and request log in one SQLite file.
 *
 * The schema is a contract with the tests, which read the file with Python's
 * sqlite3 while the server runs: requests (one row per request received),
 * contacts, tags, contact_tags, sequences, enrollments, unsubscribed, events,
 * automations, email_triggers and sent_emails; see SCHEMA in sandbox_store.c.
 *
 * Write batching.  Committing each request would cost a WAL write per
 * request, so the store keeps one transaction open across requests
 * (sandbox_store_begin) and the server commits it every few milliseconds
 * (sandbox_store_commit).  Each request runs inside a savepoint of that
 * transaction, so a request that fails half way leaves nothing behind, and
 * commits only ever fall between requests.  journal_mode=WAL lets readers
 * see the last commit without blocking the writer.  synchronous=OFF: a
 * commit survives the sandbox being killed (the kernel holds the data),
 * not a crash of the machine, which a test server need not survive.
 *
 * Not thread-safe: the caller serialises every call (meisa-sandbox holds one
 * mutex around all database work).
 *
 *   struct sandbox_store st = SANDBOX_STORE_INIT;
 *   rc = sandbox_store_open(&st, "state.db", &e);   (NULL: in memory)
 *   rc = sandbox_store_request_begin(&st, &e);
 *   ... statements from sandbox_store_stmt() ...
 *   rc = sandbox_store_request_end(&st, ok, &e);
 *   rc = sandbox_store_commit(&st, &e);
 *   sandbox_store_close(&st);
 */
#ifndef MB_SANDBOX_STORE_H
#define MB_SANDBOX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sqlite3;
struct sqlite3_stmt;

/*
 * Prepared statement slots: callers (sandbox_api) use 0 to
 * SANDBOX_STORE_PUBLIC_SLOTS - 1; the store keeps the rest for itself.
 */
#define SANDBOX_STORE_SLOTS 96
#define SANDBOX_STORE_PUBLIC_SLOTS 80

struct sandbox_store {
	struct sqlite3 *db;
	struct sqlite3_stmt *slots[SANDBOX_STORE_SLOTS];
	const char *slot_sql[SANDBOX_STORE_SLOTS];
	uint64_t uuid_state[2];  /* generator behind the SQL function uuid4() */
	int in_request;          /* inside sandbox_store_request_begin */
	unsigned long pending;   /* requests since the last commit */
};

#define SANDBOX_STORE_INIT { NULL, { NULL }, { NULL }, { 0, 0 }, 0, 0 }

/*
 * Open (creating when needed) the database at path, or an in-memory one when
 * path is NULL, apply the pragmas and create the schema.  A new file gets
 * mode 0600: it holds personal data.  MB_EDB with SQLite's message on
 * failure (then st is closed).
 */
enum mb_rc sandbox_store_open(struct sandbox_store *st, const char *path,
			      struct err *e);

/* Commit what is pending, finalise the statements, close.  NULL-safe. */
void sandbox_store_close(struct sandbox_store *st);

/*
 * The cached statement of a slot, prepared from sql on first use.  A slot
 * always holds the same SQL (callers pass a static string).  Returns NULL
 * and fills e when SQLite refuses the SQL (a bug).  The statement is reset
 * and its bindings cleared before it is handed out.
 */
struct sqlite3_stmt *sandbox_store_stmt(struct sandbox_store *st, int slot,
					const char *sql, struct err *e);

/* Fill e with MB_EDB, what was being done and SQLite's last message. */
enum mb_rc sandbox_store_fail(struct sandbox_store *st, struct err *e,
			      const char *doing);

/*
 * Open the shared transaction if needed, then a savepoint for one request.
 * request_end releases the savepoint (ok != 0) or rolls it back (ok == 0);
 * either way the shared transaction stays open for sandbox_store_commit.
 */
enum mb_rc sandbox_store_request_begin(struct sandbox_store *st,
				       struct err *e);
enum mb_rc sandbox_store_request_end(struct sandbox_store *st, int ok,
				     struct err *e);

/* Commit the shared transaction when one is open (else nothing to do). */
enum mb_rc sandbox_store_commit(struct sandbox_store *st, struct err *e);

/* One row of the request log (see the requests table). */
struct sandbox_log_row {
	double ts;               /* unix seconds, millisecond precision */
	const char *method;
	const char *path;        /* without the query string */
	const char *query;       /* NULL when there was none */
	const char *key_label;   /* "key1"...; NULL without a valid key */
	int status;              /* status sent; 0 when none was */
	int app_status;          /* status the endpoint produced */
	int64_t body_size;       /* bytes of body received */
	const char *fault;       /* NULL, fail, drop, lost_ack, rate_limited */
	const char *emails;      /* JSON array text, or NULL */
	const char *body;        /* the request body (POST), or NULL */
	size_t body_len;
	int body_is_text;        /* valid UTF-8: stored as TEXT, else BLOB */
};

enum mb_rc sandbox_store_log(struct sandbox_store *st,
			     const struct sandbox_log_row *row, struct err *e);

/* Create or update a sequence (status "active" or "paused"). */
enum mb_rc sandbox_store_put_sequence(struct sandbox_store *st,
				      const char *slug, const char *name,
				      const char *status, struct err *e);

/* Add an address (already normalised) to the unsubscribed list. */
enum mb_rc sandbox_store_put_unsubscribed(struct sandbox_store *st,
					  const char *email, struct err *e);

/* Register a transactional email trigger key for /emails/trigger/. */
enum mb_rc sandbox_store_put_trigger(struct sandbox_store *st,
				     const char *key, struct err *e);

/* Fill out[0..37) with a random version 4 UUID string. */
void sandbox_store_uuid(struct sandbox_store *st, char out[37]);

#endif
