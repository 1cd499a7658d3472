/*
 * sandbox_store: meisa-sandbox's SQLite state, request log and write
 * batching (see the header for the transaction scheme).
 */
#include "sandbox_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"

/*
 * The schema.  Column comments are the contract the e2e tests rely on; new
 * columns go at the end of a table.  Timestamps in state tables are ISO 8601
 * UTC text with milliseconds, as the API returns them; requests.ts is unix
 * seconds (REAL) so that tests can do arithmetic on it.
 */
static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS requests("
	" id INTEGER PRIMARY KEY,"
	" ts REAL NOT NULL,"            /* unix seconds, ms precision */
	" method TEXT,"
	" path TEXT,"                   /* without the query string */
	" query TEXT,"                  /* raw, without '?'; NULL if none */
	" key_label TEXT,"              /* key1, key2...; NULL if none */
	" status INTEGER,"              /* sent; 0 if dropped unanswered */
	" body_size INTEGER,"
	" fault TEXT,"                  /* fail drop lost_ack rate_limited */
	" emails TEXT,"                 /* JSON array, for writes */
	" body TEXT,"                   /* POST body (BLOB if not UTF-8) */
	" app_status INTEGER"           /* what the endpoint produced */
	");"
	"CREATE TABLE IF NOT EXISTS contacts("
	" id TEXT PRIMARY KEY,"         /* uuid */
	" email TEXT UNIQUE NOT NULL,"  /* trimmed, lower case */
	" external_id TEXT UNIQUE,"
	" first_name TEXT, last_name TEXT, display_name TEXT,"
	" custom_fields TEXT NOT NULL DEFAULT '{}',"
	" source TEXT NOT NULL,"
	" status TEXT NOT NULL,"        /* active or unsubscribed */
	" created_at TEXT NOT NULL,"
	" updated_at TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS tags("
	" id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
	"CREATE TABLE IF NOT EXISTS contact_tags("
	" contact_id TEXT NOT NULL, name TEXT NOT NULL,"
	" PRIMARY KEY(contact_id, name)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS sequences("
	" slug TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS enrollments("
	" email TEXT NOT NULL, sequence_slug TEXT NOT NULL,"
	" status TEXT NOT NULL, created_at TEXT NOT NULL,"
	" contact_id TEXT, trigger_source TEXT, metadata TEXT,"
	" PRIMARY KEY(email, sequence_slug));"
	"CREATE TABLE IF NOT EXISTS unsubscribed(email TEXT PRIMARY KEY);"
	"CREATE TABLE IF NOT EXISTS events("
	" id INTEGER PRIMARY KEY, contact_id TEXT NOT NULL,"
	" event_name TEXT NOT NULL, properties TEXT NOT NULL,"
	" created_at TEXT NOT NULL);"
	/* What Meisa's automations would fire on: contact_created,
	 * contact_updated (a field really changed), tag_added (detail: tag). */
	"CREATE TABLE IF NOT EXISTS automations("
	" id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
	" contact_id TEXT NOT NULL, email TEXT, detail TEXT,"
	" created_at TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS email_triggers(key TEXT PRIMARY KEY);"
	"CREATE TABLE IF NOT EXISTS sent_emails("
	" id TEXT PRIMARY KEY, trigger_key TEXT NOT NULL,"
	" to_email TEXT NOT NULL, idempotency_key TEXT, key_label TEXT,"
	" status TEXT NOT NULL, variables TEXT, created_at TEXT NOT NULL,"
	" ts REAL NOT NULL);"
	"CREATE INDEX IF NOT EXISTS sent_emails_idem"
	" ON sent_emails(idempotency_key) WHERE idempotency_key IS NOT NULL;";

/*
 * cache_size: the benchmark grows the contacts table by over 100,000 rows
 * in ten seconds; a 64 MiB cache keeps its indexes in memory.
 * wal_autocheckpoint: fewer, larger checkpoints cost less in total.
 */
static const char PRAGMAS[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=OFF;"
	"PRAGMA cache_size=-65536;"
	"PRAGMA temp_store=MEMORY;"
	"PRAGMA wal_autocheckpoint=4000;";

enum {
	SLOT_BEGIN = SANDBOX_STORE_PUBLIC_SLOTS,
	SLOT_COMMIT,
	SLOT_SAVEPOINT,
	SLOT_RELEASE,
	SLOT_ROLLBACK_TO,
	SLOT_LOG,
	SLOT_SEQUENCE,
	SLOT_UNSUBSCRIBED,
	SLOT_TRIGGER,
};

enum mb_rc sandbox_store_fail(struct sandbox_store *st, struct err *e,
			      const char *doing)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : "no database";

	return err_set(e, MB_EDB, "%s: %s", doing, msg);
}

/* xorshift128+: fast, and plenty for identifiers seeded from the kernel. */
static uint64_t uuid_next(struct sandbox_store *st)
{
	uint64_t s1 = st->uuid_state[0];
	const uint64_t s0 = st->uuid_state[1];

	st->uuid_state[0] = s0;
	s1 ^= s1 << 23;
	st->uuid_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return st->uuid_state[1] + s0;
}

/*
 * UUID version 7 (RFC 9562): 48 bits of unix milliseconds, then random
 * bits.  Time-ordered identifiers make every insert into the contacts' id
 * index (and contact_tags, keyed by contact) land at the index's right
 * edge: with random version 4 identifiers each insert dirtied its own page,
 * and the WAL writes grew with the table.
 */
void sandbox_store_uuid(struct sandbox_store *st, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t hi = uuid_next(st), lo = uuid_next(st), ms;
	unsigned char b[16];
	struct timespec ts;
	size_t i, o = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 0; i < 8; i++) {
		b[i] = (unsigned char)(hi >> (8 * i));
		b[8 + i] = (unsigned char)(lo >> (8 * i));
	}
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (8 * (5 - i)));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);  /* version 7 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);  /* RFC 9562 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

static void sql_uuid4(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char id[37];

	sandbox_store_uuid(sqlite3_user_data(ctx), id);
	sqlite3_result_text(ctx, id, 36, SQLITE_TRANSIENT);
}

static void seed_uuid(struct sandbox_store *st)
{
	struct timespec ts;
	uint64_t seed;

	if (getrandom(st->uuid_state, sizeof(st->uuid_state), 0) !=
	    (ssize_t)sizeof(st->uuid_state)) {
		/*
		 * No entropy: identifiers need only be unique, not secret.
		 * splitmix64 spreads the clock and pid over both words, as
		 * xorshift128+'s authors advise for its seeding.
		 */
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		seed ^= (uint64_t)getpid() << 40;
		st->uuid_state[0] = rng_next(&seed);
		st->uuid_state[1] = rng_next(&seed);
	}
	if (!st->uuid_state[0] && !st->uuid_state[1])
		st->uuid_state[0] = 1;
}

/* Create the file with mode 0600 before SQLite does it with 0644. */
static enum mb_rc create_private(const char *path, struct err *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_set(e, MB_EDB, "cannot create '%s': %s", path,
			       strerror(errno));
	close(fd);
	return MB_OK;
}

enum mb_rc sandbox_store_open(struct sandbox_store *st, const char *path,
			      struct err *e)
{
	enum mb_rc rc;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		SQLITE_OPEN_NOMUTEX;

	memset(st, 0, sizeof(*st));
	seed_uuid(st);
	/* Memory statistics take a global mutex on every allocation; the
	 * sandbox never reads them.  Effective only before SQLite's first
	 * use in the process (later it fails harmlessly). */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (path && (rc = create_private(path, e)) != MB_OK)
		return rc;
	if (sqlite3_open_v2(path ? path : ":memory:", &st->db, flags, NULL)) {
		rc = sandbox_store_fail(st, e, "cannot open the database");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	/* Statements here allocate many small objects: a larger lookaside
	 * keeps them off malloc. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 256, 4096);
	if (sqlite3_exec(st->db, PRAGMAS, NULL, NULL, NULL) ||
	    sqlite3_exec(st->db, SCHEMA, NULL, NULL, NULL)) {
		rc = sandbox_store_fail(st, e, "cannot create the schema");
		goto fail;
	}
	if (sqlite3_create_function(st->db, "uuid4", 0, SQLITE_UTF8, st,
				    sql_uuid4, NULL, NULL)) {
		rc = sandbox_store_fail(st, e, "cannot register uuid4()");
		goto fail;
	}
	return MB_OK;
fail:
	if (path)
		err_prefix(e, "'%s'", path);
	sandbox_store_close(st);
	return rc;
}

void sandbox_store_close(struct sandbox_store *st)
{
	size_t i;

	if (!st || !st->db)
		return;
	sandbox_store_commit(st, NULL);
	for (i = 0; i < SANDBOX_STORE_SLOTS; i++)
		sqlite3_finalize(st->slots[i]);
	sqlite3_close(st->db);
	memset(st, 0, sizeof(*st));
}

struct sqlite3_stmt *sandbox_store_stmt(struct sandbox_store *st, int slot,
					const char *sql, struct err *e)
{
	sqlite3_stmt *stmt = st->slots[slot];

	if (stmt) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		return stmt;
	}
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &stmt, NULL) != SQLITE_OK) {
		sandbox_store_fail(st, e, "cannot prepare a statement");
		return NULL;
	}
	st->slots[slot] = stmt;
	st->slot_sql[slot] = sql;
	return stmt;
}

/* Run a statement that returns no row. */
static enum mb_rc run(struct sandbox_store *st, sqlite3_stmt *stmt,
		      struct err *e, const char *doing)
{
	int rc;

	if (!stmt)
		return MB_EDB;
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sandbox_store_fail(st, e, doing);
	return MB_OK;
}

static enum mb_rc run_sql(struct sandbox_store *st, int slot, const char *sql,
			  struct err *e, const char *doing)
{
	return run(st, sandbox_store_stmt(st, slot, sql, e), e, doing);
}

enum mb_rc sandbox_store_request_begin(struct sandbox_store *st,
				       struct err *e)
{
	enum mb_rc rc;

	if (sqlite3_get_autocommit(st->db)) {
		rc = run_sql(st, SLOT_BEGIN, "BEGIN", e, "cannot begin");
		if (rc != MB_OK)
			return rc;
	}
	rc = run_sql(st, SLOT_SAVEPOINT, "SAVEPOINT request", e,
		     "cannot open a savepoint");
	if (rc == MB_OK)
		st->in_request = 1;
	return rc;
}

enum mb_rc sandbox_store_request_end(struct sandbox_store *st, int ok,
				     struct err *e)
{
	enum mb_rc rc = MB_OK;

	if (!st->in_request)
		return MB_OK;
	st->in_request = 0;
	if (!ok)
		rc = run_sql(st, SLOT_ROLLBACK_TO, "ROLLBACK TO request", e,
			     "cannot roll back a request");
	if (rc == MB_OK)
		rc = run_sql(st, SLOT_RELEASE, "RELEASE request", e,
			     "cannot release a savepoint");
	st->pending++;
	return rc;
}

enum mb_rc sandbox_store_commit(struct sandbox_store *st, struct err *e)
{
	size_t i;
	enum mb_rc rc;

	if (!st->db || sqlite3_get_autocommit(st->db))
		return MB_OK;
	/* COMMIT refuses while a statement is still writing; none should be,
	 * but make sure a forgotten reset cannot turn into lost data. */
	for (i = 0; i < SANDBOX_STORE_SLOTS; i++)
		if (st->slots[i])
			sqlite3_reset(st->slots[i]);
	rc = run_sql(st, SLOT_COMMIT, "COMMIT", e, "cannot commit");
	if (rc == MB_OK)
		st->pending = 0;
	return rc;
}

enum mb_rc sandbox_store_log(struct sandbox_store *st,
			     const struct sandbox_log_row *row, struct err *e)
{
	sqlite3_stmt *s = sandbox_store_stmt(st, SLOT_LOG,
		"INSERT INTO requests(ts, method, path, query, key_label,"
		" status, body_size, fault, emails, body, app_status)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", e);

	if (!s)
		return MB_EDB;
	sqlite3_bind_double(s, 1, row->ts);
	sqlite3_bind_text(s, 2, row->method, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, row->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, row->query, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, row->key_label, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, row->status);
	sqlite3_bind_int64(s, 7, row->body_size);
	sqlite3_bind_text(s, 8, row->fault, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, row->emails, -1, SQLITE_STATIC);
	if (row->body && row->body_is_text)
		sqlite3_bind_text(s, 10, row->body, (int)row->body_len,
				  SQLITE_STATIC);
	else if (row->body)
		sqlite3_bind_blob(s, 10, row->body, (int)row->body_len,
				  SQLITE_STATIC);
	sqlite3_bind_int(s, 11, row->app_status);
	return run(st, s, e, "cannot log a request");
}

enum mb_rc sandbox_store_put_sequence(struct sandbox_store *st,
				      const char *slug, const char *name,
				      const char *status, struct err *e)
{
	sqlite3_stmt *s = sandbox_store_stmt(st, SLOT_SEQUENCE,
		"INSERT INTO sequences(slug, name, status) VALUES(?1, ?2, ?3)"
		" ON CONFLICT(slug) DO UPDATE SET status = excluded.status", e);

	if (!s)
		return MB_EDB;
	sqlite3_bind_text(s, 1, slug, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, status, -1, SQLITE_STATIC);
	return run(st, s, e, "cannot store a sequence");
}

enum mb_rc sandbox_store_put_unsubscribed(struct sandbox_store *st,
					  const char *email, struct err *e)
{
	sqlite3_stmt *s = sandbox_store_stmt(st, SLOT_UNSUBSCRIBED,
		"INSERT OR IGNORE INTO unsubscribed(email) VALUES(?1)", e);

	if (!s)
		return MB_EDB;
	sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
	return run(st, s, e, "cannot store an unsubscribed address");
}

enum mb_rc sandbox_store_put_trigger(struct sandbox_store *st,
				     const char *key, struct err *e)
{
	sqlite3_stmt *s = sandbox_store_stmt(st, SLOT_TRIGGER,
		"INSERT OR IGNORE INTO email_triggers(key) VALUES(?1)", e);

	if (!s)
		return MB_EDB;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	return run(st, s, e, "cannot store an email trigger");
}
