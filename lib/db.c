/*
 * db: open the staging file, create or migrate its schema, hold its lock.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "validate.h"
#include "xalloc.h"

/*
 * Version 1.  contacts.state is the outbox: pending -> sent -> upserted |
 * failed, or skipped when the source says do-not-email.  A contact left
 * 'sent' by a crash is treated as pending (the re-send is safe: upsert is
 * idempotent).  chunks.state: built (membership committed before sending)
 * -> sent -> acknowledged.  Frozen: files of this version exist.
 */
static const char schema_v1[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
	"CREATE TABLE runs("
	" id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL,"
	" ended_at TEXT, args TEXT, exit_status INTEGER, summary TEXT);"
	"CREATE TABLE inputs("
	" id INTEGER PRIMARY KEY, run_id INTEGER, path TEXT NOT NULL,"
	" size INTEGER, sha256 TEXT UNIQUE, kind TEXT,"
	" preset TEXT, delimiter TEXT, rows_read INTEGER NOT NULL DEFAULT 0,"
	" rejected INTEGER NOT NULL DEFAULT 0,"
	" duplicates INTEGER NOT NULL DEFAULT 0,"
	" complete INTEGER NOT NULL DEFAULT 0, error TEXT, staged_at TEXT);"
	"CREATE TABLE contacts("
	" id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
	" external_id TEXT, body TEXT NOT NULL, source_status TEXT,"
	" unconfirmed INTEGER NOT NULL DEFAULT 0,"
	" input_id INTEGER NOT NULL, line INTEGER NOT NULL,"
	" merged INTEGER NOT NULL DEFAULT 0,"
	" conflict INTEGER NOT NULL DEFAULT 0,"
	/* OR, not IN (...): IN builds an ephemeral table for every row. */
	" state TEXT NOT NULL DEFAULT 'pending' CHECK (state = 'pending'"
	"  OR state = 'sent' OR state = 'upserted' OR state = 'failed'"
	"  OR state = 'skipped'),"
	" attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER,"
	" error TEXT, meisa_id TEXT, acked_at TEXT,"
	" chunk_id INTEGER, enroll_status TEXT);"
	"CREATE UNIQUE INDEX contacts_external_id ON contacts(external_id)"
	" WHERE external_id IS NOT NULL;"
	"CREATE TABLE rejects("
	" id INTEGER PRIMARY KEY, input_id INTEGER NOT NULL, line INTEGER,"
	" email TEXT, reason TEXT NOT NULL, detail TEXT);"
	"CREATE TABLE duplicates("
	" id INTEGER PRIMARY KEY, input_id INTEGER NOT NULL, line INTEGER,"
	" email TEXT NOT NULL, contact_id INTEGER NOT NULL);"
	"CREATE TABLE unsubscribed(email TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE chunks("
	" id INTEGER PRIMARY KEY, sequence_slug TEXT NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'built' CHECK (state = 'built'"
	"  OR state = 'sent' OR state = 'acknowledged' OR state = 'failed'),"
	" size INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	" http_status INTEGER, error TEXT, created_at TEXT, acked_at TEXT);"
	"CREATE TABLE sends(t_ms INTEGER NOT NULL);"
	"INSERT INTO meta VALUES('requests', '0');";

/*
 * Version 1 -> 2: nightly sync.
 *
 * contacts.gen          the generation the contact was last seen in
 * contacts.body_hash    db_body_hash(body), or NULL: staging a first
 *                       generation does not hash (nothing was acknowledged
 *                       to compare with); push hashes what it acknowledges
 * contacts.acked_hash   body_hash of the last body Meisa acknowledged: push
 *                       sends a contact only when its body_hash differs
 * contacts.acked_fields custom field keys Meisa holds from acknowledged
 *                       upserts (a sorted JSON array; custom_fields merge,
 *                       so this only grows)
 * contacts.acked_gen    the generation in which that acknowledgement came:
 *                       an upserted contact with acked_gen < gen was found
 *                       unchanged by staging and not sent again
 * contacts.cleared      keys of acked_fields the current body lacks: cells
 *                       emptied at the source, which an upsert cannot clear
 * generations           one row per generation (see db.h); pushed_at is set
 *                       when a push starts writing, full_since while a
 *                       --full push of it is unfinished
 * inputs.gen            the generation a file was staged into; sha256 is no
 *                       longer unique (the same export may come back later)
 *
 * A v1 file is one generation.  Its upserted contacts were acknowledged
 * with the body they hold now (v1 re-staged nothing after a push), so that
 * body's hash becomes their acked_hash; the generation counts as pushed
 * when any request reached Meisa for a contact or chunk.
 */
static const char migrate_v2[] =
	"ALTER TABLE contacts ADD COLUMN gen INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE contacts ADD COLUMN body_hash INTEGER;"
	"ALTER TABLE contacts ADD COLUMN acked_hash INTEGER;"
	"ALTER TABLE contacts ADD COLUMN acked_fields TEXT;"
	"ALTER TABLE contacts ADD COLUMN acked_gen INTEGER;"
	"ALTER TABLE contacts ADD COLUMN cleared TEXT;"
	"UPDATE contacts SET body_hash = mb_body_hash(body);"
	"UPDATE contacts SET acked_hash = body_hash, acked_gen = 1,"
	" acked_fields = (SELECT"
	" json_group_array(key) FROM (SELECT key FROM json_each(contacts.body,"
	" '$.custom_fields') ORDER BY key)) WHERE state = 'upserted';"
	"CREATE TABLE generations("
	" id INTEGER PRIMARY KEY, run_id INTEGER, started_at TEXT NOT NULL,"
	" pushed_at TEXT, full_since TEXT);"
	"INSERT INTO generations(id, run_id, started_at, pushed_at)"
	" SELECT 1, (SELECT min(id) FROM runs WHERE kind IN ('stage',"
	" 'import')), coalesce((SELECT min(staged_at) FROM inputs),"
	" strftime('%Y-%m-%dT%H:%M:%fZ')),"
	" CASE WHEN EXISTS (SELECT 1 FROM contacts WHERE attempts > 0)"
	"  OR EXISTS (SELECT 1 FROM chunks) THEN coalesce((SELECT max(acked_at)"
	"  FROM contacts), strftime('%Y-%m-%dT%H:%M:%fZ')) END"
	" WHERE EXISTS (SELECT 1 FROM inputs) OR EXISTS (SELECT 1 FROM"
	" contacts);"
	/* SQLite cannot drop a UNIQUE constraint: rebuild the (small) table. */
	"CREATE TABLE inputs_v2("
	" id INTEGER PRIMARY KEY, run_id INTEGER,"
	" gen INTEGER NOT NULL DEFAULT 0, path TEXT NOT NULL, size INTEGER, sha256 TEXT, kind TEXT,"
	" preset TEXT, delimiter TEXT, rows_read INTEGER NOT NULL DEFAULT 0,"
	" rejected INTEGER NOT NULL DEFAULT 0,"
	" duplicates INTEGER NOT NULL DEFAULT 0,"
	" complete INTEGER NOT NULL DEFAULT 0, error TEXT, staged_at TEXT);"
	"INSERT INTO inputs_v2(id, run_id, gen, path, size, sha256, kind,"
	" preset, delimiter, rows_read, rejected, duplicates, complete, error,"
	" staged_at) SELECT id, run_id, 1, path, size, sha256, kind, preset,"
	" delimiter, rows_read, rejected, duplicates, complete, error,"
	" staged_at FROM inputs;"
	"DROP TABLE inputs;"
	"ALTER TABLE inputs_v2 RENAME TO inputs;"
	"CREATE INDEX inputs_gen ON inputs(gen, size);"
	"CREATE INDEX rejects_input ON rejects(input_id);"
	"CREATE INDEX duplicates_input ON duplicates(input_id);";

/*
 * Version 2 -> 3: partial indexes for counting.  status (and the summary
 * every stage and push prints) counted everything in one pass over the
 * generation's contacts, ten aggregates over a join with the unsubscribed
 * list: 0.6 s a million contacts, serial after staging's pipeline.  Flags
 * that few contacts carry are now counted from partial indexes holding only
 * those contacts, leaving the pass four cheap sums (0.3 s).  The states get
 * no index: every contact's generation changes each night, and moving a
 * million (gen, state) entries made a nightly re-stage 1.75x, not 1.4x, a
 * plain one; enroll_status is set on every contact by a push with a
 * sequence, so it stays in the pass too.  status.c's queries repeat each
 * WHERE clause word for word: SQLite uses a partial index only for a query
 * whose WHERE contains the index's.
 */
static const char migrate_v3[] =
	"CREATE INDEX contacts_source_status ON contacts(gen)"
	" WHERE source_status IS NOT NULL;"
	"CREATE INDEX contacts_unconfirmed ON contacts(gen)"
	" WHERE unconfirmed <> 0;"
	"CREATE INDEX contacts_cleared ON contacts(gen)"
	" WHERE cleared IS NOT NULL;"
	/*
	 * A chunk's members: its body, its answer and a resumed chunk's
	 * cleanup read them by chunk_id, each a scan of every contact
	 * without it (100k contacts: 198 chunks took 18 s of CPU).
	 */
	"CREATE INDEX contacts_chunk ON contacts(chunk_id)"
	" WHERE chunk_id IS NOT NULL;";

/*
 * Version 3 -> 4, second part: the address's unique index gets a name.
 * Declared UNIQUE in the table (schema 1), it was SQLite's own
 * sqlite_autoindex_contacts_1, which cannot be dropped; as contacts_email
 * it can, so that staging into an empty file loads the rows first and
 * builds the unique indexes once, sorted, at the end of the file (see
 * store_stage_bulk_begin: random inserts into an index that outgrows the
 * page cache made 5M rows cost 3x per row what 1M did).  SQLite cannot
 * drop a constraint: the table is rebuilt, columns in the same order.
 */
#define CONTACTS_V4_COLUMNS \
	"id, email, external_id, body, source_status, unconfirmed," \
	" input_id, line, merged, conflict, state, attempts, http_status," \
	" error, meisa_id, acked_at, chunk_id, enroll_status, gen," \
	" body_hash, acked_hash, acked_fields, acked_gen, cleared, vanished"
#define MIGRATE_V4_EMAIL \
	"CREATE TABLE contacts_v4(" \
	" id INTEGER PRIMARY KEY, email TEXT NOT NULL," \
	" external_id TEXT, body TEXT NOT NULL, source_status TEXT," \
	" unconfirmed INTEGER NOT NULL DEFAULT 0," \
	" input_id INTEGER NOT NULL, line INTEGER NOT NULL," \
	" merged INTEGER NOT NULL DEFAULT 0," \
	" conflict INTEGER NOT NULL DEFAULT 0," \
	" state TEXT NOT NULL DEFAULT 'pending' CHECK (state = 'pending'" \
	"  OR state = 'sent' OR state = 'upserted' OR state = 'failed'" \
	"  OR state = 'skipped')," \
	" attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER," \
	" error TEXT, meisa_id TEXT, acked_at TEXT," \
	" chunk_id INTEGER, enroll_status TEXT," \
	" gen INTEGER NOT NULL DEFAULT 1, body_hash INTEGER," \
	" acked_hash INTEGER, acked_fields TEXT, acked_gen INTEGER," \
	" cleared TEXT, vanished INTEGER NOT NULL DEFAULT 0);" \
	"INSERT INTO contacts_v4(" CONTACTS_V4_COLUMNS ") SELECT " \
	CONTACTS_V4_COLUMNS " FROM contacts ORDER BY id;" \
	"DROP TABLE contacts;" \
	"ALTER TABLE contacts_v4 RENAME TO contacts;" \
	"CREATE UNIQUE INDEX contacts_email ON contacts(email);" \
	"CREATE UNIQUE INDEX contacts_external_id ON contacts(external_id)" \
	" WHERE external_id IS NOT NULL;" \
	"CREATE INDEX contacts_chunk ON contacts(chunk_id)" \
	" WHERE chunk_id IS NOT NULL;"

/*
 * Version 3 -> 4: a night costs what changed.  Up to schema 3 every contact
 * of a new night was rewritten to move contacts.gen, unchanged or not (a
 * 100,000-row night with 1% changed cost as much as staging the file into
 * a new staging file).  Now an unchanged contact is read, compared and left
 * alone; what the night saw is kept apart (db.h, "Generations"):
 *
 * contacts.vanished  0: the contact is in the latest generation (its gen
 *                    may be older: the generation its row was last
 *                    written in); 1: it was not seen in the latest
 *                    generation, and gen is the last one it was seen in
 * seen               (gen, id, input_id, line): a contact of an earlier
 *                    generation that generation gen met unchanged, and
 *                    where; only the latest two generations' are kept
 *
 * The partial indexes that counted by gen count by vanished.  A v3 file's
 * latest generation is its contacts with the greatest gen.
 */
static const char migrate_v4[] =
	"ALTER TABLE contacts ADD COLUMN vanished INTEGER NOT NULL DEFAULT 0;"
	"UPDATE contacts SET vanished = 1 WHERE gen <"
	" (SELECT coalesce(max(id), 0) FROM generations);"
	"CREATE TABLE seen(gen INTEGER NOT NULL, id INTEGER NOT NULL,"
	" input_id INTEGER NOT NULL, line INTEGER NOT NULL,"
	" PRIMARY KEY(gen, id)) WITHOUT ROWID;"
	MIGRATE_V4_EMAIL
	"CREATE INDEX contacts_source_status ON contacts(vanished)"
	" WHERE source_status IS NOT NULL;"
	"CREATE INDEX contacts_unconfirmed ON contacts(vanished)"
	" WHERE unconfirmed <> 0;"
	"CREATE INDEX contacts_cleared ON contacts(vanished)"
	" WHERE cleared IS NOT NULL;";

/* Migrations: migrations[v] takes a file from version v to v + 1. */
static const char *const migrations[] = {
	NULL,
	migrate_v2,
	migrate_v3,
	migrate_v4,
};

static void close_lock(struct db *db)
{
	if (db->lock_fd >= 0)
		close(db->lock_fd);
	db->lock_fd = -1;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

static enum mb_rc not_regular(struct db *db, mode_t mode, struct err *e)
{
	return err_set(e, MB_EDB, "staging file '%s' is %s: give --db the"
		       " name of a regular file", db->path, file_kind(mode));
}

/*
 * 0 when the staging file's directory exists but takes no new files (-wal,
 * -shm): permissions or a read-only mount.  A missing directory counts as
 * writable here: open() then names the real cause.
 */
static int dir_writable(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path + 1)) :
		xstrdup(".");
	int ok = access(dir, W_OK) == 0 ||
		 (errno != EACCES && errno != EROFS && errno != EPERM);

	free(dir);
	return ok;
}

/*
 * What may be checked before opening: a device, FIFO or directory is
 * refused before open() (a FIFO would block it), and a writer needs a
 * directory where SQLite can create the -wal and -shm files.
 */
static enum mb_rc check_path(struct db *db, enum db_mode mode,
			     struct err *e)
{
	struct stat st;

	if (stat(db->path, &st) == 0 && !S_ISREG(st.st_mode))
		return not_regular(db, st.st_mode, e);
	if (mode != DB_READER && !dir_writable(db->path))
		return err_set(e, MB_EDB, "cannot write the staging file '%s':"
			       " its directory is not writable (SQLite keeps"
			       " its -wal and -shm files beside it)",
			       db->path);
	return MB_OK;
}

/*
 * Open the file ourselves before SQLite sees it: a new one is created with
 * 0600 whatever the umask; an existing one keeps its mode (it may be shared
 * on purpose; cmd/ warns when others can read it); then take the run lock.
 * O_NONBLOCK: a FIFO put in place since check_path must not hang us.
 */
static enum mb_rc open_file(struct db *db, enum db_mode mode, struct err *e)
{
	int flags = (mode == DB_READER ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		    O_NONBLOCK | O_NOCTTY;
	int created = 0;
	struct stat st;
	enum mb_rc rc;

	rc = check_path(db, mode, e);
	if (rc != MB_OK)
		return rc;
	if (mode == DB_CREATE) {
		db->lock_fd = open(db->path, flags | O_CREAT | O_EXCL, 0600);
		created = db->lock_fd >= 0;
	}
	if (db->lock_fd < 0 && (mode != DB_CREATE || errno == EEXIST))
		db->lock_fd = open(db->path, flags);
	if (db->lock_fd < 0) {
		if (errno == ENOENT && mode != DB_CREATE)
			return err_set(e, MB_EDB, "staging file '%s' does not"
				       " exist: run 'meisa-bulk stage' first",
				       db->path);
		return err_set(e, MB_EDB, "cannot open staging file '%s': %s",
			       db->path, strerror(errno));
	}
	if (fstat(db->lock_fd, &st) != 0)
		return err_set(e, MB_EDB, "cannot open staging file '%s': %s",
			       db->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return not_regular(db, st.st_mode, e);
	if (created && fchmod(db->lock_fd, 0600) != 0)
		return err_set(e, MB_EDB, "cannot set mode of '%s': %s",
			       db->path, strerror(errno));
	db->mode = created ? 0600 : (unsigned)(st.st_mode & 07777);
	if (mode == DB_READER)
		return MB_OK;
	if (flock(db->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return err_set(e, MB_ELOCKED, "staging file '%s' is in"
				       " use by another meisa-bulk run; wait"
				       " for it to finish or stop it first",
				       db->path);
		return err_set(e, MB_EDB, "cannot lock '%s': %s", db->path,
			       strerror(errno));
	}
	return MB_OK;
}

/*
 * The first read of the file: SQLite's "file is not a database" and
 * "database disk image is malformed" get messages of their own (exit 65),
 * not the "cannot create or use" of MB_EDB.
 */
static enum mb_rc first_read_failed(struct db *db, struct err *e)
{
	int code = sqlite3_errcode(db->sql) & 0xff;

	if (code == SQLITE_NOTADB)
		return err_set(e, MB_EDATA, "'%s' is not a meisa-bulk staging"
			       " file (not an SQLite database)", db->path);
	if (code == SQLITE_CORRUPT)
		return err_set(e, MB_EDATA, "staging file '%s' is damaged: %s",
			       db->path, sqlite3_errmsg(db->sql));
	return e->rc;
}

static enum mb_rc check_version(struct db *db, int64_t *version,
				struct err *e)
{
	int64_t app_id = 0, tables = 0;
	enum mb_rc rc;

	rc = db_int(db, "PRAGMA application_id", &app_id, e);
	if (rc == MB_OK)
		rc = db_int(db, "PRAGMA user_version", version, e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT count(*) FROM sqlite_master", &tables,
			    e);
	if (rc != MB_OK)
		return first_read_failed(db, e);
	if (app_id == 0 && tables == 0)
		return MB_OK;   /* new, empty file */
	if (app_id != DB_APPLICATION_ID)
		return err_set(e, MB_EDB, "'%s' is not a meisa-bulk staging"
			       " file", db->path);
	if (*version < 1 && tables)
		return err_set(e, MB_EDB, "staging file '%s' has no schema"
			       " version: it was not written by meisa-bulk, or"
			       " its creation was interrupted; stage again into"
			       " a new file", db->path);
	if (*version > DB_SCHEMA_VERSION)
		return err_set(e, MB_EDB, "staging file '%s' was written by a"
			       " newer meisa-bulk (schema %lld, this one reads"
			       " up to %d): upgrade meisa-bulk", db->path,
			       (long long)*version, DB_SCHEMA_VERSION);
	return MB_OK;
}

static enum mb_rc set_version(struct db *db, int version, struct err *e)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d;", version);
	return db_exec(db, sql, e);
}

/* Take the file from version `from` to the current one, in one go. */
static enum mb_rc migrate(struct db *db, int from, struct err *e)
{
	enum mb_rc rc;
	int v;

	rc = db_begin(db, e);
	for (v = from; rc == MB_OK && v < DB_SCHEMA_VERSION; v++)
		rc = db_exec(db, migrations[v], e);
	if (rc == MB_OK)
		rc = set_version(db, DB_SCHEMA_VERSION, e);
	if (rc == MB_OK)
		rc = db_commit(db, e);
	if (rc == MB_OK)
		return MB_OK;
	db_rollback(db);
	err_prefix(e, "cannot migrate staging file '%s' from schema %d to %d"
		   " (it is unchanged)", db->path, from, DB_SCHEMA_VERSION);
	return rc;
}

/* A new file: version 1, then the same migrations an old file takes. */
static enum mb_rc create_schema(struct db *db, struct err *e)
{
	char sql[128];
	enum mb_rc rc;

	rc = db_begin(db, e);
	if (rc == MB_OK)
		rc = db_exec(db, schema_v1, e);
	snprintf(sql, sizeof(sql), "PRAGMA application_id=%d;",
		 DB_APPLICATION_ID);
	if (rc == MB_OK)
		rc = db_exec(db, sql, e);
	if (rc == MB_OK)
		rc = set_version(db, 1, e);
	if (rc == MB_OK)
		rc = db_commit(db, e);
	if (rc != MB_OK) {
		db_rollback(db);
		return rc;
	}
	return migrate(db, 1, e);
}

static void sql_body_hash(sqlite3_context *ctx, int argc,
			  sqlite3_value **argv)
{
	const unsigned char *text = sqlite3_value_text(argv[0]);

	if (!text) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int64(ctx, bodyhash_of((const char *)text,
		(size_t)sqlite3_value_bytes(argv[0])));
}

/*
 * "file:PATH?immutable=1", PATH percent-encoded where a URI needs it.
 * Caller frees.
 */
static char *immutable_uri(const char *path)
{
	struct buf uri = BUF_INIT;
	const unsigned char *p;

	buf_addstr(&uri, path[0] == '/' ? "file://" : "file:");
	for (p = (const unsigned char *)path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' ||
		    *p >= 0x7f)
			buf_printf(&uri, "%%%02X", *p);
		else
			buf_addch(&uri, (char)*p);
	}
	buf_addstr(&uri, "?immutable=1");
	return buf_detach(&uri, NULL);
}

/*
 * A reader of a WAL file needs to create its -shm (and -wal) unless they
 * exist.  In a directory it cannot write (a read-only mount, an archive of
 * last month's run), and with no -wal left by a crash, the file is a
 * closed, complete database: open it immutable, which needs neither.
 */
static int open_sqlite(struct db *db, enum db_mode mode)
{
	int flags = SQLITE_OPEN_NOMUTEX | (mode == DB_READER ?
		SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
	char *wal, *uri;
	int rc, immutable = 0;

	if (mode == DB_READER && !dir_writable(db->path)) {
		wal = xmalloc(strlen(db->path) + 5);
		sprintf(wal, "%s-wal", db->path);
		immutable = access(wal, F_OK) != 0;
		free(wal);
	}
	if (!immutable)
		return sqlite3_open_v2(db->path, &db->sql, flags, NULL);
	uri = immutable_uri(db->path);
	rc = sqlite3_open_v2(uri, &db->sql, flags | SQLITE_OPEN_URI, NULL);
	free(uri);
	return rc;
}

/*
 * mb_email(x): x as stage stores an address (validate_email's one
 * normalisation), or NULL when x is not an address stage would accept.
 */
static void sql_email(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *text = (const char *)sqlite3_value_text(argv[0]);
	struct buf out = BUF_INIT;

	if (text && !validate_email(text, (size_t)sqlite3_value_bytes(
					    argv[0]), &out))
		sqlite3_result_text(ctx, out.data, (int)out.len,
				    SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
	buf_release(&out);
}

/* The SQL functions the staging file's statements use. */
static int create_functions(sqlite3 *sql)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;

	if (sqlite3_create_function(sql, "mb_body_hash", 1, flags, NULL,
				    sql_body_hash, NULL, NULL) != SQLITE_OK)
		return -1;
	return sqlite3_create_function(sql, "mb_email", 1, flags, NULL,
				       sql_email, NULL, NULL) == SQLITE_OK ?
		0 : -1;
}

enum mb_rc db_open(struct db *db, const char *path, enum db_mode mode,
		   struct err *e)
{
	int64_t version = 0;
	enum mb_rc rc;

	db->path = xstrdup(path);
	rc = open_file(db, mode, e);
	if (rc != MB_OK)
		goto out;
	/* One thread uses the connection at a time: no mutexes needed. */
	if (open_sqlite(db, mode) != SQLITE_OK) {
		rc = db_fail(db, "cannot open staging file", e);
		goto out;
	}
	sqlite3_busy_timeout(db->sql, 5000);
	sqlite3_extended_result_codes(db->sql, 1);
	if (create_functions(db->sql) != 0) {
		rc = db_fail(db, "cannot open staging file", e);
		goto out;
	}
	rc = check_version(db, &version, e);
	if (rc == MB_OK && mode == DB_READER) {
		/* A reader can neither create nor migrate: the run will. */
		if (version != DB_SCHEMA_VERSION)
			rc = err_set(e, MB_ELOCKED, "staging file '%s' is in"
				     " use by another meisa-bulk run and"
				     " not yet at schema %d; try again when"
				     " it has finished", db->path,
				     DB_SCHEMA_VERSION);
		goto out;
	}
	/*
	 * 32 KiB pages: staging appends a contact row of ~300 bytes and a
	 * random-order email index entry per row.  Measured on a 1M-row
	 * file (the writer thread's CPU): 8 KiB pages 2.1-2.4 s, 16 KiB
	 * 2.0-2.2 s, 32 KiB 1.8 s (fewer page splits and write(2) calls;
	 * 4 KiB cost 35% more than 8 KiB).  Push's checkpoints rewrite one
	 * or two pages of consecutive contacts either way.  Only a new file
	 * can take it (before WAL mode is set); older files keep theirs.
	 */
	if (rc == MB_OK && version == 0)
		rc = db_exec(db, "PRAGMA page_size=32768;", e);
	if (rc == MB_OK)
		rc = db_exec(db, "PRAGMA journal_mode=WAL;"
			     " PRAGMA synchronous=NORMAL;"
			     " PRAGMA foreign_keys=OFF;", e);
	if (rc == MB_OK && version == 0)
		rc = create_schema(db, e);
	else if (rc == MB_OK && version < DB_SCHEMA_VERSION)
		rc = migrate(db, (int)version, e);
out:
	if (rc != MB_OK)
		db_close(db);
	return rc;
}

void db_close(struct db *db)
{
	if (db->sql)
		sqlite3_close(db->sql);
	db->sql = NULL;
	close_lock(db);    /* after SQLite: see the note in db.h */
	free(db->path);
	db->path = NULL;
}

enum mb_rc db_fail(struct db *db, const char *what, struct err *e)
{
	const char *msg = db->sql ? sqlite3_errmsg(db->sql) : "out of memory";
	int code = db->sql ? sqlite3_errcode(db->sql) : SQLITE_NOMEM;
	enum mb_rc rc = MB_EDB;

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		rc = MB_ELOCKED;
	return err_set(e, rc, "%s '%s': %s", what,
		       db->path ? db->path : "?", msg);
}

enum mb_rc db_exec(struct db *db, const char *sql, struct err *e)
{
	if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, "cannot update staging file", e);
	return MB_OK;
}

enum mb_rc db_prepare(struct db *db, sqlite3_stmt **stmt, const char *sql,
		      struct err *e)
{
	if (sqlite3_prepare_v2(db->sql, sql, -1, stmt, NULL) != SQLITE_OK)
		return db_fail(db, "cannot query staging file", e);
	return MB_OK;
}

enum mb_rc db_int(struct db *db, const char *sql, int64_t *out,
		  struct err *e)
{
	sqlite3_stmt *stmt = NULL;
	enum mb_rc rc;
	int step;

	rc = db_prepare(db, &stmt, sql, e);
	if (rc != MB_OK)
		return rc;
	step = sqlite3_step(stmt);
	if (step == SQLITE_ROW)
		*out = sqlite3_column_int64(stmt, 0);
	else if (step == SQLITE_DONE)
		*out = 0;
	else
		rc = db_fail(db, "cannot read staging file", e);
	sqlite3_finalize(stmt);
	return rc;
}

enum mb_rc db_meta_get(struct db *db, const char *key, struct buf *out,
		       struct err *e)
{
	sqlite3_stmt *stmt = NULL;
	enum mb_rc rc;
	int step;

	rc = db_prepare(db, &stmt, "SELECT value FROM meta WHERE key=?", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	buf_reset(out);
	step = sqlite3_step(stmt);
	if (step == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(stmt, 0);

		rc = buf_addstr(out, v ? (const char *)v : "");
	} else if (step != SQLITE_DONE) {
		rc = db_fail(db, "cannot read staging file", e);
	}
	sqlite3_finalize(stmt);
	return rc;
}

enum mb_rc db_meta_set(struct db *db, const char *key, const char *value,
		       struct err *e)
{
	sqlite3_stmt *stmt = NULL;
	enum mb_rc rc;

	rc = db_prepare(db, &stmt, "INSERT INTO meta(key, value) VALUES(?,?)"
			" ON CONFLICT(key) DO UPDATE SET value=excluded.value",
			e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		rc = db_fail(db, "cannot update staging file", e);
	sqlite3_finalize(stmt);
	return rc;
}

enum mb_rc db_begin(struct db *db, struct err *e)
{
	return db_exec(db, "BEGIN IMMEDIATE", e);
}

enum mb_rc db_commit(struct db *db, struct err *e)
{
	return db_exec(db, "COMMIT", e);
}

void db_rollback(struct db *db)
{
	if (db->sql && !sqlite3_get_autocommit(db->sql))
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
}

int64_t db_now_ms(void)
{
	return clock_wall_ms();
}

void db_now_iso(char *out, size_t size)
{
	char iso[CLOCK_ISO_MAX];

	clock_iso(clock_wall_ms(), iso);
	snprintf(out, size, "%s", iso);
}

enum mb_rc db_global_init(void)
{
	if (sqlite3_config(SQLITE_CONFIG_MULTITHREAD) != SQLITE_OK ||
	    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		return MB_EINTERNAL;
	return sqlite3_initialize() == SQLITE_OK ? MB_OK : MB_EINTERNAL;
}

const char *db_sqlite_version(void)
{
	return sqlite3_libversion();
}

enum mb_rc db_gen_latest(struct db *db, int64_t *id, int *pushed,
			 struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;
	int step;

	rc = db_prepare(db, &s, "SELECT id, pushed_at IS NOT NULL FROM"
			" generations ORDER BY id DESC LIMIT 1", e);
	if (rc != MB_OK)
		return rc;
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		*pushed = sqlite3_column_int(s, 1);
	} else if (step == SQLITE_DONE) {
		*id = 0;
		*pushed = 0;
	} else {
		rc = db_fail(db, "cannot read", e);
	}
	sqlite3_finalize(s);
	return rc;
}
