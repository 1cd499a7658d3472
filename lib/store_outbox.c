/*
 * store_outbox: push's reads and writes of contacts and generations, each
 * prepared, stepped and checked here.
 */
#include "store_outbox.h"

#include "store_report.h"

#define CURRENT_GEN STORE_CURRENT_GEN

/*
 * What --full sends again besides the pending contacts: the upserted ones
 * (and failed ones, on a fresh pass) of the generation; when a full pass
 * began earlier (full_since), only those acknowledged before it.
 */
#define FULL_AGAIN_SQL \
	" vanished = 0 AND (SELECT full_since FROM generations" \
	" WHERE id = " CURRENT_GEN ") IS NULL" \
	" AND state IN ('upserted', 'failed')" \
	" OR vanished = 0 AND state = 'upserted' AND acked_at <" \
	" (SELECT full_since FROM generations WHERE id = " CURRENT_GEN ")"

enum mb_rc store_outbox_generation(struct db *db, int64_t *gen,
				   struct err *e)
{
	return db_int(db, "SELECT " CURRENT_GEN, gen, e);
}

/*
 * The plan's contact counts in one pass over the generation (each count
 * on its own would scan the table again).  With --full the contacts sent
 * again are counted as to upsert and none as unchanged; with --retry-failed
 * the failed ones too.
 */
static const char plan_sql[] = "SELECT"
	" coalesce(sum(state IN ('pending', 'sent')), 0),"
	" coalesce(sum(?2 AND (" FULL_AGAIN_SQL ")), 0),"
	" coalesce(sum(NOT ?2 AND state = 'upserted' AND"
	"  acked_gen < ?1), 0),"
	" coalesce(sum(state = 'skipped'), 0),"
	" coalesce(sum(source_status IS NOT NULL OR"
	"  u.email IS NOT NULL), 0),"
	" coalesce(sum(u.email IS NOT NULL), 0),"
	" coalesce(sum(state = 'failed' AND NOT (?2 AND ("
	FULL_AGAIN_SQL "))), 0)"
	" FROM contacts LEFT JOIN unsubscribed u"
	" ON u.email = contacts.email WHERE contacts.vanished = 0";

enum mb_rc store_outbox_plan(struct db *db, int64_t gen, int full,
			     struct store_plan_counts *c, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_prepare(db, &s, plan_sql, e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, gen);
	sqlite3_bind_int(s, 2, full != 0);
	if (sqlite3_step(s) == SQLITE_ROW) {
		c->pending = sqlite3_column_int64(s, 0);
		c->full_again = sqlite3_column_int64(s, 1);
		c->unchanged = sqlite3_column_int64(s, 2);
		c->skipped = sqlite3_column_int64(s, 3);
		c->suppressed = sqlite3_column_int64(s, 4);
		c->meisa_unsubscribed = sqlite3_column_int64(s, 5);
		c->failed = sqlite3_column_int64(s, 6);
	} else {
		rc = db_fail(db, "cannot read", e);
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * The contacts a run decides on by --include-unconfirmed (the header says
 * which).  "unconfirmed <> 0" as in the partial index contacts_unconfirmed,
 * so that the counts read only the flagged contacts.
 */
#define UNCONFIRMED_SQL \
	" unconfirmed <> 0 AND source_status IS NULL AND acked_at IS NULL"
#define ENROLLABLE_SQL \
	" chunk_id IS NULL AND enroll_status IS NULL" \
	" AND email NOT IN (SELECT email FROM unsubscribed)"

static const char unconfirmed_sql[] = "SELECT"
	" coalesce(sum(state IN ('pending', 'sent')), 0),"
	" coalesce(sum(state = 'skipped'), 0),"
	" coalesce(sum(state IN ('pending', 'sent') AND" ENROLLABLE_SQL "), 0),"
	" coalesce(sum(state = 'skipped' AND" ENROLLABLE_SQL "), 0),"
	" coalesce(sum(state = 'failed' AND ?2 AND (" FULL_AGAIN_SQL ")), 0),"
	" coalesce(sum(state = 'failed' AND ?3 AND NOT (?2 AND ("
	FULL_AGAIN_SQL "))), 0)"
	" FROM contacts WHERE vanished = 0 AND" UNCONFIRMED_SQL;

enum mb_rc store_outbox_unconfirmed(struct db *db, int64_t gen, int full,
				    int retry_failed,
				    struct store_unconfirmed *c,
				    struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_prepare(db, &s, unconfirmed_sql, e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, gen);
	sqlite3_bind_int(s, 2, full != 0);
	sqlite3_bind_int(s, 3, retry_failed != 0);
	if (sqlite3_step(s) == SQLITE_ROW) {
		c->pending = sqlite3_column_int64(s, 0);
		c->skipped = sqlite3_column_int64(s, 1);
		c->pending_enrollable = sqlite3_column_int64(s, 2);
		c->skipped_enrollable = sqlite3_column_int64(s, 3);
		c->failed_full = sqlite3_column_int64(s, 4);
		c->failed_retry = sqlite3_column_int64(s, 5);
	} else {
		rc = db_fail(db, "cannot read", e);
	}
	sqlite3_finalize(s);
	return rc;
}

enum mb_rc store_outbox_decide_unconfirmed(struct db *db, int include,
					   struct err *e)
{
	if (include)
		return db_exec(db, "UPDATE contacts SET state = 'pending'"
			       " WHERE vanished = 0 AND"
			       UNCONFIRMED_SQL " AND state = 'skipped'", e);
	return db_exec(db, "UPDATE contacts SET state = 'skipped'"
		       " WHERE vanished = 0 AND" UNCONFIRMED_SQL
		       " AND state IN ('pending', 'sent')", e);
}

enum mb_rc store_outbox_pending(struct db *db, int64_t *n, struct err *e)
{
	return db_int(db, "SELECT count(*) FROM contacts WHERE state IN"
		      " ('pending', 'sent') AND vanished = 0", n, e);
}

enum mb_rc store_outbox_begin_run(struct db *db, int full, int retry_failed,
				  struct err *e)
{
	enum mb_rc rc;

	rc = db_exec(db, "UPDATE generations SET pushed_at ="
		     " strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = "
		     CURRENT_GEN " AND pushed_at IS NULL", e);
	if (rc == MB_OK && full)
		rc = db_exec(db, "UPDATE contacts SET state = 'pending'"
			     " WHERE" FULL_AGAIN_SQL ";"
			     "UPDATE generations SET full_since = strftime("
			     "'%Y-%m-%dT%H:%M:%fZ') WHERE id = " CURRENT_GEN
			     " AND full_since IS NULL", e);
	if (rc == MB_OK && retry_failed)
		rc = db_exec(db, "UPDATE contacts SET state = 'pending'"
			     " WHERE state = 'failed' AND vanished = 0",
			     e);
	return rc;
}

enum mb_rc store_outbox_full_done(struct db *db, struct err *e)
{
	return db_exec(db, "UPDATE generations SET full_since = NULL"
		       " WHERE id = " CURRENT_GEN, e);
}

enum mb_rc store_outbox_outcomes(struct db *db, struct store_outcomes *o,
				 struct err *e)
{
	int64_t failed = 0, refused = 0, unknown = 0;
	enum mb_rc rc;

	rc = db_int(db, "SELECT count(*) FROM contacts WHERE state ="
		    " 'failed' AND vanished = 0", &failed, e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT count(*) FROM contacts WHERE"
			    " enroll_status = 'failed' AND vanished = 0",
			    &refused, e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT count(*) FROM contacts WHERE"
			    " enroll_status NOT IN (" STATUS_ENROLL_KNOWN ")"
			    " AND vanished = 0", &unknown, e);
	if (rc == MB_OK) {
		o->failed = failed;
		o->enroll_refused = refused;
		o->enroll_unknown = unknown;
	}
	return rc;
}

/* ---- the upsert cursor and its answers -------------------------------- */

/*
 * NOT INDEXED: a walk along the rowid, resumed after the last contact
 * taken.  Through an index on (gen, state), as schema 3 briefly had, the
 * two states were two ranges to merge and sort on every call: quadratic
 * (measured: 99k upserts took 684 s, not 10 s).
 */
static const char next_sql[] = "SELECT id, body FROM contacts"
	" NOT INDEXED WHERE id > ?1 AND state IN"
	" ('pending', 'sent') AND vanished = 0 ORDER BY id"
	" LIMIT 1";

/*
 * The body acknowledged is the one staged (no staging runs during a push:
 * the run lock), so its hash is body_hash (left NULL by the staging of a
 * first generation, which has nothing to compare).  custom_fields merge:
 * the keys Meisa holds are the union of all those sent.
 */
static const char ok_sql[] = "UPDATE contacts SET"
	" state = 'upserted', http_status = ?2,"
	" attempts = attempts + ?3, error = NULL,"
	" meisa_id = CASE WHEN json_valid(?4) THEN"
	" json_extract(?4, '$.id') END,"
	" acked_at = strftime('%Y-%m-%dT%H:%M:%fZ'),"
	" body_hash = coalesce(body_hash,"
	" mb_body_hash(body)), acked_hash ="
	" coalesce(body_hash, mb_body_hash(body)),"
	" acked_gen = " CURRENT_GEN ","
	" acked_fields = (SELECT json_group_array(k)"
	" FROM (SELECT key AS k FROM json_each("
	" contacts.body, '$.custom_fields') UNION"
	" SELECT value FROM json_each(coalesce("
	" contacts.acked_fields, '[]')) ORDER BY 1))"
	" WHERE id = ?1";

static const char fail_sql[] = "UPDATE contacts SET"
	" state = 'failed', http_status = ?2,"
	" attempts = attempts + ?3, error = ?4"
	" WHERE id = ?1";

void store_contact_release(struct store_contact *c)
{
	buf_release(&c->body);
	c->done = 0;
	c->id = 0;
}

enum mb_rc store_outbox_open(struct store_outbox *o, struct db *db,
			     struct err *e)
{
	enum mb_rc rc;

	o->db = db;
	rc = db_prepare(db, &o->next, next_sql, e);
	if (rc == MB_OK)
		rc = db_prepare(db, &o->ok, ok_sql, e);
	if (rc == MB_OK)
		rc = db_prepare(db, &o->fail, fail_sql, e);
	return rc;
}

void store_outbox_close(struct store_outbox *o)
{
	if (!o)
		return;
	sqlite3_finalize(o->next);
	sqlite3_finalize(o->ok);
	sqlite3_finalize(o->fail);
	o->next = o->ok = o->fail = NULL;
	o->db = NULL;
}

enum mb_rc store_outbox_next(struct store_outbox *o, int64_t after_id,
			     int64_t gen, struct store_contact *c,
			     struct err *e)
{
	sqlite3_stmt *s = o->next;
	enum mb_rc rc = MB_OK;
	int step;

	sqlite3_bind_int64(s, 1, after_id);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		rc = buf_set(&c->body, sqlite3_column_text(s, 1),
			     (size_t)sqlite3_column_bytes(s, 1));
		if (rc == MB_OK) {
			c->id = sqlite3_column_int64(s, 0);
			c->done = 0;
		}
	} else if (step == SQLITE_DONE) {
		c->done = 1;
	} else {
		rc = db_fail(o->db, "cannot read contact from", e);
	}
	sqlite3_reset(s);
	return rc;
}

/* Bind what both answers record and step s once. */
static enum mb_rc settle(struct store_outbox *o, sqlite3_stmt *s, int64_t id,
			 long status, unsigned attempts, struct err *e)
{
	enum mb_rc rc = MB_OK;

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, (int)status);
	sqlite3_bind_int(s, 3, (int)attempts);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(o->db, "cannot record answer in", e);
	sqlite3_reset(s);
	return rc;
}

enum mb_rc store_outbox_upserted(struct store_outbox *o, int64_t id,
				 long status, unsigned attempts,
				 const char *answer, size_t len,
				 struct err *e)
{
	sqlite3_bind_text(o->ok, 4, answer, (int)len, SQLITE_STATIC);
	return settle(o, o->ok, id, status, attempts, e);
}

enum mb_rc store_outbox_failed(struct store_outbox *o, int64_t id,
			       long status, unsigned attempts,
			       const char *error, struct err *e)
{
	sqlite3_bind_text(o->fail, 4, error, -1, SQLITE_TRANSIENT);
	return settle(o, o->fail, id, status, attempts, e);
}
