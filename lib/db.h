/*
 * db: the staging file: open or create it, its schema, its run lock.
 *
 * The staging file is one SQLite database holding everything a run needs to
 * resume: the inputs read, the contacts with the exact body push sends and
 * each one's state, the rejects, the duplicates, Meisa's unsubscribed list,
 * enrollment chunks, request send times and the run history.  It holds
 * personal data, so it is created with mode 0600 whatever the umask, and it
 * never holds the API key.
 *
 * Schema versions: PRAGMA application_id marks the file as ours and
 * PRAGMA user_version is the schema version.  A file of an older version is
 * migrated in place, in one transaction (all or nothing: a failed migration
 * leaves the file as it was and says why); a newer or foreign file is
 * refused with a message.  A new file is created at version 1 and migrated
 * like an old one, so a fresh file and a migrated file cannot drift apart.
 *
 *   1  the first release
 *   2  nightly sync: generations (one per set of files staged between two
 *      pushes), contacts.gen/body_hash/acked_hash/acked_gen/acked_fields/
 *      cleared, inputs.gen, inputs.sha256 no longer unique (the same
 *      export may come back a later night)
 *   3  partial indexes for counting: contacts_source_status,
 *      contacts_unconfirmed and contacts_cleared (on gen, holding only the
 *      contacts with that flag) and contacts_chunk (a chunk's members)
 *   4  a night writes only what changed: contacts.vanished and the seen
 *      table (below) instead of moving every contact's gen; the counting
 *      indexes are on vanished; the address's unique index is a named one,
 *      contacts_email, which a first load drops and builds once at the end
 *      (store_stage_bulk_begin)
 *
 * Generations.  A generation is what one nightly dump is: the files staged
 * since the last push.  Staging opens a new generation when the latest one
 * has been pushed (a push run started writing); otherwise new files join
 * the open one, so `stage a.csv; stage b.csv; push` is one generation and
 * every nightly `import users.csv.gz` is a new one.  The counts of
 * status.h are those of the latest generation.
 *
 * Which contacts are in which generation (schema 4).  A night re-stage
 * writes only new, changed and vanished contacts; an unchanged one is read
 * and compared, and only its id goes into the small seen table:
 *
 *   contacts.vanished = 0  the contact is in the latest generation.  Its
 *                          gen is the generation its row was last written
 *                          in by staging (new, changed, re-keyed), which
 *                          may be older: read it as "the latest".
 *   contacts.vanished = 1  the latest generation has not seen it; gen is
 *                          the generation it was last seen in, and
 *                          input_id/line where (export missing).
 *   seen(gen, id, ...)     generation gen met contact id unchanged, at
 *                          input_id and line.  A contact is seen in the
 *                          latest generation G when gen = G (written in
 *                          G) or seen holds (G, id): that is how a second
 *                          row of the same address in G is a duplicate.
 *                          Rows of generations before G - 1 are dropped.
 *
 * So "the contacts of the latest generation" is `vanished = 0`, "missing"
 * (in the previous generation only) is `vanished = 1 AND gen = previous`,
 * and a contact's generation as schema 3 had it is
 * `CASE WHEN vanished THEN gen ELSE latest END`.  Staging marks the
 * contacts of the previous generation that the new one did not see as
 * vanished at the end of each stage run (store_stage_vanish), in the last
 * file's transaction (in one of its own when that file was skipped).
 *
 * The canonical body hash (bodyhash.h) is stored in the file
 * (contacts.body_hash, contacts.acked_hash), so it is part of the format:
 * changing it needs a schema version.
 *
 * One writer: db_open takes an exclusive flock() on the file for the life of
 * the handle, so a second run on the same staging file fails at once with
 * MB_ELOCKED instead of interleaving its outcomes with the first.  (flock is
 * independent of SQLite's own fcntl locks; the descriptor is closed only
 * after SQLite has closed its own, so no fcntl lock is dropped early.)
 */
#ifndef MB_DB_H
#define MB_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "bodyhash.h"
#include "buf.h"
#include "err.h"

#define DB_SCHEMA_VERSION 4
#define DB_APPLICATION_ID 0x4d424c4b  /* "MBLK" */


enum db_mode {
	DB_CREATE,       /* create when missing (stage, import) */
	DB_EXISTING,     /* must exist (push, status, export) */
	DB_READER,       /* must exist; read-only, without the run lock, so
			    status and export can watch a running push (WAL
			    lets a reader see the last commit) */
};

struct db {
	sqlite3 *sql;
	char *path;
	int lock_fd;
	unsigned mode;           /* the file's permission bits when opened */
};

#define DB_INIT { NULL, NULL, -1, 0 }

/*
 * Open the staging file at path.  Refused: a path that is not a regular
 * file (device, FIFO, directory: MB_EDB, never opened for long, never
 * chmodded); for DB_CREATE and DB_EXISTING, a file whose directory is not
 * writable (MB_EDB, saying so).  A DB_READER in such a directory reads the
 * file as it is.  A file that is not SQLite or is damaged is MB_EDATA with
 * a message of its own.  Only a file db_open creates is chmodded (0600);
 * db->mode tells the caller an existing file's permission bits.
 */
enum mb_rc db_open(struct db *db, const char *path, enum db_mode mode,
		   struct err *e);
void db_close(struct db *db);

/* Run SQL without results; on failure e names the statement's purpose. */
enum mb_rc db_exec(struct db *db, const char *sql, struct err *e);

/* Prepare a statement; on failure fills e with sqlite3_errmsg. */
enum mb_rc db_prepare(struct db *db, sqlite3_stmt **stmt, const char *sql,
		      struct err *e);

/* Fill e from the connection's last error: "what: sqlite message". */
enum mb_rc db_fail(struct db *db, const char *what, struct err *e);

/* Single integer from a query with no parameters (0 when no row). */
enum mb_rc db_int(struct db *db, const char *sql, int64_t *out,
		  struct err *e);

/* meta table: key/value strings. */
enum mb_rc db_meta_get(struct db *db, const char *key, struct buf *out,
		       struct err *e);
enum mb_rc db_meta_set(struct db *db, const char *key, const char *value,
		       struct err *e);

enum mb_rc db_begin(struct db *db, struct err *e);
enum mb_rc db_commit(struct db *db, struct err *e);
void db_rollback(struct db *db);

/* The former name of bodyhash_of, for the callers not yet moved to it. */
static inline int64_t db_body_hash(const char *p, size_t n)
{
	return bodyhash_of(p, n);
}

/*
 * The latest generation: *id (0 when nothing was staged yet) and *pushed
 * (1 once a push started writing for it: the next staged file opens a new
 * generation).
 */
enum mb_rc db_gen_latest(struct db *db, int64_t *id, int *pushed,
			 struct err *e);

/* Now as clock_iso writes it, into out (>= 25 bytes); now in wall ms. */
void db_now_iso(char *out, size_t size);
int64_t db_now_ms(void);

/*
 * Process-wide SQLite settings for meisa-bulk, before any other SQLite
 * call: multi-thread mode (a connection is only ever used by one thread at
 * a time) and no memory statistics (they take a global mutex on every
 * allocation).  Returns MB_EINTERNAL when SQLite was already in use.
 */
enum mb_rc db_global_init(void);

/* The SQLite library's version ("3.45.1"), for --version. */
const char *db_sqlite_version(void);

#endif
