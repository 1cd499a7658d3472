/*
 * store_stage: contacts, rejects and duplicates as stage writes them; see
 * store_stage.h.  The statements and the comments that say why they are
 * written as they are moved here from stage.c unchanged.
 */
#include "store_stage.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

/*
 * A json_each() row's value as JSON text, exactly as written.  json_each's
 * value column would turn true into 1 and re-render a decimal (480.00 ->
 * 480.0), so booleans are spelt out and decimals, the rare case, are taken
 * by path ("->" gives the text as written; a lookup by key is linear, so
 * only decimals pay it).  Strings and integers (int64: see typing.c) come
 * through value unchanged.  Keys are snake_case, safe inside the path.
 * JSON_VALUE_SQL goes directly inside json_group_object: a value's JSON
 * subtype is lost when it passes through a subquery's column.
 */
#define JSON_VALUE_SQL(raw) \
	"CASE type WHEN 'true' THEN json('true')" \
	" WHEN 'false' THEN json('false') WHEN 'null' THEN json('null')" \
	" WHEN 'real' THEN json(" raw ") ELSE value END"
/* A custom field's text as written, by path; used for decimals only. */
#define JSON_RAW_SQL(src) \
	src " -> ('$.custom_fields.\"' || key || '\"')"

const char store_stage_canonical_sql[] =
	"json_patch('{}', json_object("
	" 'email', json_extract(body, '$.email'),"
	" 'external_id', json_extract(body, '$.external_id'),"
	" 'first_name', json_extract(body, '$.first_name'),"
	" 'last_name', json_extract(body, '$.last_name'),"
	" 'display_name', json_extract(body, '$.display_name'),"
	" 'source', json_extract(body, '$.source'),"
	" 'custom_fields', CASE WHEN json_type(body, '$.custom_fields')"
	"  = 'object' THEN json((SELECT json_group_object(key, "
	JSON_VALUE_SQL(JSON_RAW_SQL("body")) ") FROM (SELECT key, type,"
	"  value FROM"
	"  json_each(body, '$.custom_fields') ORDER BY key))) END,"
	" 'tag_names', json_extract(body, '$.tag_names')))";

/*
 * SQL expression: the JSON array of the contact's acked_fields that body
 * (an SQL expression) lacks, or NULL when there is none.
 */
#define CLEARED_SQL(body) \
	"(SELECT nullif(json_group_array(value), '[]') FROM" \
	" json_each(contacts.acked_fields) WHERE value NOT IN" \
	" (SELECT key FROM json_each(" body ", '$.custom_fields')))"

#define LATEST_SQL "(SELECT max(id) FROM generations)"

/*
 * Seen in the latest generation (?8, or the one bound as ?8): written in it,
 * or met unchanged by it (db.h, "Generations").  For a contacts row c.
 */
#define SEEN_SQL(c, g) \
	"((" c ".gen = " g " AND NOT " c ".vanished) OR EXISTS (SELECT 1" \
	" FROM seen WHERE seen.gen = " g " AND seen.id = " c ".id))"

/*
 * What a row of a newer generation sets on a contact staged in an earlier
 * one (parameters as in ins_contact), only when it changed: an unchanged
 * contact is left alone and recorded in seen (store_stage_see).  The state
 * follows from the hashes: unchanged since Meisa's last acknowledgement
 * stays upserted, anything else is pending, do-not-email at the source is
 * skipped.  The cleared-field list is only recomputed when the body changed
 * (the subquery runs for those rows alone).  Each term costs (measured),
 * so what can be derived later is not stored here,
 * and external_id is only set by the statement for a row that changes it
 * (setting it, even to the same value, rewrites its index entry: 12% of
 * a second night's time, measured).
 */
#define REPLACE_SET_SAME_ID \
	" body = ?3, source_status = ?4, unconfirmed = ?5, vanished = 0," \
	" input_id = ?6, line = ?7, gen = ?8, body_hash = ?9," \
	" state = CASE WHEN ?4 IS NOT NULL THEN 'skipped'" \
	"  WHEN acked_hash = ?9 THEN 'upserted' ELSE 'pending' END," \
	" cleared = CASE WHEN acked_hash = ?9 OR acked_fields IS NULL" \
	"  THEN cleared ELSE " CLEARED_SQL("?3") " END"
#define REPLACE_SET " external_id = ?2," REPLACE_SET_SAME_ID

/*
 * The first generation's INSERT of STORE_STAGE_MULTI rows: row j binds
 * ?(9j+1) to ?(9j+9) as ins_contact binds ?1 to ?9; and the check that
 * tells, when fewer rows went in, which ones did (a row is its file and
 * line).
 */
static enum mb_rc prepare_multi(struct store_stage *ss, struct err *e)
{
	struct buf sql = BUF_INIT;
	enum mb_rc rc;
	int j, p;

	rc = buf_addstr(&sql, "INSERT OR IGNORE INTO contacts(email,"
			" external_id, body, source_status, unconfirmed, state,"
			" input_id, line, gen, body_hash) VALUES");
	for (j = 0; j < STORE_STAGE_MULTI && rc == MB_OK; j++) {
		p = 9 * j;
		rc = buf_printf(&sql, "%s(?%d, ?%d, ?%d, ?%d, ?%d, CASE WHEN"
				" ?%d IS NULL THEN 'pending' ELSE 'skipped' END,"
				" ?%d, ?%d, ?%d, ?%d)", j ? "," : "", p + 1,
				p + 2, p + 3, p + 4, p + 5, p + 4, p + 6,
				p + 7, p + 8, p + 9);
	}
	if (rc == MB_OK)
		rc = db_prepare(ss->db, &ss->ins_multi, sql.data, e);
	if (rc == MB_OK)
		rc = db_prepare(ss->db, &ss->was_inserted, "SELECT 1 FROM"
				" contacts WHERE email = ?1 AND input_id = ?2"
				" AND line = ?3", e);
	buf_release(&sql);
	return rc;
}

static enum mb_rc prepare_all(struct store_stage *ss, struct err *e)
{
	struct {
		sqlite3_stmt **stmt;
		const char *sql;
	} list[] = {
		{ &ss->ins_contact,
		  /*
		   * OR IGNORE: a plain INSERT that may violate a unique
		   * index inside a transaction needs a statement journal
		   * per row (a third of the staging time, measured); this
		   * one cannot abort, and "no row changed" sends the rare
		   * duplicate or conflict to the slow path.
		   */
		  "INSERT OR IGNORE INTO contacts(id, email, external_id, body,"
		  " source_status,"
		  " unconfirmed, state, input_id, line, gen, body_hash)"
		  " VALUES(?10, ?1, ?2, ?3, ?4, ?5,"
		  " CASE WHEN ?4 IS NULL THEN 'pending' ELSE 'skipped' END,"
		  " ?6, ?7, ?8, ?9)" },
		/*
		 * OR IGNORE for the same reason; an external_id that another
		 * contact holds leaves the row alone (the slow path decides).
		 */
		/* Contact ?10, looked up and not seen in this generation. */
		{ &ss->upd_same_id,
		  "UPDATE OR IGNORE contacts SET" REPLACE_SET_SAME_ID
		  " WHERE id = ?10" },
		{ &ss->upd_contact,
		  "UPDATE OR IGNORE contacts SET" REPLACE_SET
		  " WHERE id = ?10" },
		{ &ss->rekey,
		  "UPDATE OR IGNORE contacts SET email = ?1," REPLACE_SET
		  " WHERE id = ?10" },
		{ &ss->lookup,
		  "SELECT c.id, c.external_id, c.body_hash, c.source_status,"
		  " c.unconfirmed, c.state, c.acked_hash,"
		  " c.acked_fields IS NULL, c.vanished,"
		  " c.gen = ?2 AND NOT c.vanished"
		  " FROM contacts c WHERE c.email = ?1" },
		/* Taken: seen already, a duplicate (store_stage_see). */
		{ &ss->ins_seen,
		  "INSERT OR IGNORE INTO seen(gen, id, input_id, line)"
		  " VALUES(?, ?, ?, ?)" },
		{ &ss->was_seen,
		  "SELECT 1 FROM seen WHERE gen = ? AND id = ?" },
		/*
		 * The nightly case in one statement: the contact of an
		 * earlier generation that row ?1.. leaves as it is (what
		 * REPLACE_SET would write, compared) goes into seen, unless
		 * seen already.  No row: the caller looks closer.
		 */
		{ &ss->see_same,
		  "INSERT OR IGNORE INTO seen(gen, id, input_id, line)"
		  " SELECT ?8, id, ?6, ?7 FROM contacts WHERE email = ?1"
		  " AND body_hash = ?9 AND gen < ?8 AND NOT vanished"
		  " AND external_id IS ?2 AND source_status IS ?4"
		  " AND unconfirmed = ?5 AND state = CASE WHEN ?4 IS NOT NULL"
		  "  THEN 'skipped' WHEN acked_hash = ?9 THEN 'upserted'"
		  "  ELSE 'pending' END"
		  " AND (acked_hash = ?9 OR acked_fields IS NULL)" },
		{ &ss->ins_reject,
		  "INSERT INTO rejects(input_id, line, email, reason, detail)"
		  " VALUES(?, ?, ?, ?, ?)" },
		{ &ss->ins_dup,
		  "INSERT INTO duplicates(input_id, line, email, contact_id)"
		  " VALUES(?, ?, ?, ?)" },
		/*
		 * A contact met unchanged in this generation (?3) is
		 * reported at the row that met it: seen says where.
		 */
		{ &ss->find,
		  "SELECT 'email', c.id, c.external_id, CASE WHEN s.id IS NOT"
		  " NULL THEN ?3 ELSE c.gen END, coalesce(s.line, c.line),"
		  " coalesce(s.input_id, c.input_id), (SELECT path FROM inputs"
		  " WHERE id = coalesce(s.input_id, c.input_id)) FROM"
		  " contacts c LEFT JOIN seen s ON s.gen = ?3 AND s.id = c.id"
		  " WHERE c.email = ?1 UNION ALL SELECT 'external_id', c.id,"
		  " c.email, CASE WHEN s.id IS NOT NULL THEN ?3 ELSE c.gen"
		  " END, coalesce(s.line, c.line), coalesce(s.input_id,"
		  " c.input_id), (SELECT path FROM inputs WHERE id ="
		  " coalesce(s.input_id, c.input_id)) FROM contacts c"
		  " LEFT JOIN seen s ON s.gen = ?3 AND s.id = c.id"
		  " WHERE ?2 IS NOT NULL AND c.external_id = ?2" },
		/*
		 * Later non-empty values win, tags are a union (old first,
		 * in order).  custom_fields are merged as two json_each
		 * lists, not by json_patch: json_patch looks every key of
		 * the patch up in the target, quadratic in the number of
		 * fields (30 duplicates of a 10,000-column row took 5.5 s).
		 * A NULL member of the outer patch leaves the key out.
		 */
		{ &ss->merge,
		  "UPDATE contacts SET body = json_patch(json_patch("
		  " json_remove(body, '$.custom_fields', '$.tag_names'),"
		  " json_remove(?2, '$.custom_fields', '$.tag_names')),"
		  " json_object('custom_fields', json((SELECT CASE WHEN"
		  " count(*) THEN json_group_object(key, "
		  JSON_VALUE_SQL("raw") ") END FROM ("
		  " SELECT key, type, value, CASE type WHEN 'real' THEN "
		  JSON_RAW_SQL("?2") " END AS raw FROM"
		  " json_each(?2, '$.custom_fields') UNION ALL"
		  " SELECT key, type, value, CASE type WHEN 'real' THEN "
		  JSON_RAW_SQL("contacts.body") " END FROM"
		  " json_each(contacts.body, '$.custom_fields') WHERE key"
		  " NOT IN (SELECT key FROM json_each(?2,"
		  " '$.custom_fields'))))),"
		  " 'tag_names', CASE WHEN ?6 THEN json((SELECT"
		  " json_group_array(value) FROM (SELECT value FROM"
		  " json_each(contacts.body, '$.tag_names') UNION ALL SELECT"
		  " n.value FROM json_each(?2, '$.tag_names') AS n WHERE"
		  " n.value NOT IN (SELECT value FROM"
		  " json_each(contacts.body, '$.tag_names')))))"
		  " ELSE json(body -> '$.tag_names') END)),"
		  " external_id = coalesce(external_id, ?3),"
		  " source_status = coalesce(source_status, ?4),"
		  " unconfirmed = (unconfirmed AND ?5),"
		  /* The state follows the merged body: see finish_file. */
		  " merged = 1 WHERE id = ?1" },
		{ &ss->mark_conflict,
		  "UPDATE contacts SET conflict = 1 WHERE id = ?" },
		/* The first word on a contact's conflict names the row. */
		{ &ss->note_conflict,
		  "INSERT OR IGNORE INTO temp.conflict_detail(contact_id,"
		  " detail) VALUES(?, ?)" },
	};
	size_t i;
	enum mb_rc rc;

	rc = db_exec(ss->db, "CREATE TEMP TABLE IF NOT EXISTS conflict_detail("
		     "contact_id INTEGER PRIMARY KEY, detail TEXT)", e);
	for (i = 0; i < sizeof(list) / sizeof(list[0]) && rc == MB_OK; i++)
		rc = db_prepare(ss->db, list[i].stmt, list[i].sql, e);
	return rc;
}

enum mb_rc store_stage_open(struct store_stage *ss,
			    struct db *db, int64_t gen,
			    int64_t input_id, int hashing,
			    struct err *e)
{
	enum mb_rc rc;

	*ss = (struct store_stage)STORE_STAGE_INIT;
	ss->db = db;
	ss->gen = gen;
	ss->input_id = input_id;
	ss->hashing = hashing;
	rc = prepare_all(ss, e);
	if (rc != MB_OK)
		store_stage_close(ss);
	return rc;
}

static void finalize_all(struct store_stage *ss)
{
	sqlite3_stmt **all[] = { &ss->ins_contact, &ss->ins_multi,
				 &ss->was_inserted, &ss->upd_same_id,
				 &ss->upd_contact,
				 &ss->rekey, &ss->ins_reject,
				 &ss->ins_dup, &ss->find, &ss->merge,
				 &ss->mark_conflict, &ss->note_conflict,
				 &ss->lookup, &ss->ins_seen,
				 &ss->was_seen, &ss->see_same };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		sqlite3_finalize(*all[i]);
		*all[i] = NULL;
	}
}

void store_stage_close(struct store_stage *ss)
{
	if (ss)
		finalize_all(ss);
}

/* An optional string of known length (NULL: SQL NULL). */
static void bind_len(sqlite3_stmt *stmt, int i, const char *s, size_t len)
{
	if (s)
		sqlite3_bind_text(stmt, i, s, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

static void bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

static enum mb_rc step_done(struct store_stage *ss, sqlite3_stmt *stmt,
			    const char *what, struct err *e)
{
	int step = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (step != SQLITE_DONE)
		return db_fail(ss->db, what, e);
	return MB_OK;
}

/* Bind one row's nine values from parameter base + 1 on. */
static void bind_contact_at(struct store_stage *ss, sqlite3_stmt *s,
			    const struct store_contact *c, int base)
{
	bind_len(s, base + 1, c->email, c->email_len);
	bind_len(s, base + 2, c->ext, c->ext_len);
	bind_len(s, base + 3, c->body, c->body_len);
	bind_text(s, base + 4, c->suppress);
	sqlite3_bind_int(s, base + 5, c->unconfirmed != 0);
	sqlite3_bind_int64(s, base + 6, ss->input_id);
	sqlite3_bind_int64(s, base + 7, (sqlite3_int64)c->line);
	sqlite3_bind_int64(s, base + 8, ss->gen);
	if (ss->hashing)
		sqlite3_bind_int64(s, base + 9, c->hash);
	else
		sqlite3_bind_null(s, base + 9);
}

/* Run a bound contact statement; *changed: it wrote a row. */
static enum mb_rc step_contact(struct store_stage *ss, sqlite3_stmt *s,
			       int *changed, struct err *e)
{
	int step = sqlite3_step(s);

	sqlite3_reset(s);
	if (step != SQLITE_DONE)
		return db_fail(ss->db, "cannot write contact into", e);
	*changed = sqlite3_changes(ss->db->sql) != 0;
	return MB_OK;
}

enum mb_rc store_stage_insert(struct store_stage *ss,
			      const struct store_contact *c,
			      int *changed, struct err *e)
{
	bind_contact_at(ss, ss->ins_contact, c, 0);
	if (c->id)
		sqlite3_bind_int64(ss->ins_contact, 10, c->id);
	else
		sqlite3_bind_null(ss->ins_contact, 10);
	return step_contact(ss, ss->ins_contact, changed, e);
}

enum mb_rc store_stage_update(struct store_stage *ss,
			      const struct store_contact *c, int64_t id,
			      int same_id, int *changed,
			      struct err *e)
{
	sqlite3_stmt *s = same_id ? ss->upd_same_id : ss->upd_contact;

	bind_contact_at(ss, s, c, 0);
	sqlite3_bind_int64(s, 10, id);
	return step_contact(ss, s, changed, e);
}

static int64_t column_opt(sqlite3_stmt *s, int i, int *has)
{
	*has = sqlite3_column_type(s, i) != SQLITE_NULL;
	return sqlite3_column_int64(s, i);
}

/*
 * Column i's text into out (cap bytes, NUL-terminated); *has: not NULL.
 * Returns 0 when it did not fit (out is then cut short).
 */
static int column_copy(sqlite3_stmt *s, int i, char *out, size_t cap,
		       int *has)
{
	const unsigned char *text = sqlite3_column_text(s, i);
	size_t n = (size_t)sqlite3_column_bytes(s, i);
	int fits = n < cap;

	if (has)
		*has = text != NULL;
	if (!fits)
		n = cap - 1;
	if (text)
		memcpy(out, text, n);
	out[text ? n : 0] = '\0';
	return fits;
}

/* Copy the lookup's strings: they outlive the statement's reset. */
static void held_of(sqlite3_stmt *s, struct store_stage_held *h)
{
	h->id = sqlite3_column_int64(s, 0);
	h->ext_fits = column_copy(s, 1, h->ext, sizeof(h->ext), &h->has_ext);
	h->body_hash = column_opt(s, 2, &h->has_body_hash);
	column_copy(s, 3, h->status, sizeof(h->status), &h->has_status);
	h->unconfirmed = sqlite3_column_int(s, 4);
	column_copy(s, 5, h->state, sizeof(h->state), NULL);
	h->acked_hash = column_opt(s, 6, &h->has_acked_hash);
	h->no_acked_fields = sqlite3_column_int(s, 7);
	h->vanished = sqlite3_column_int(s, 8);
	h->written = sqlite3_column_int(s, 9);
}

enum mb_rc store_stage_lookup(struct store_stage *ss, const char *email,
			      size_t email_len, int *found,
			      struct store_stage_held *h, struct err *e)
{
	sqlite3_stmt *s = ss->lookup;
	enum mb_rc rc = MB_OK;
	int step;

	bind_len(s, 1, email, email_len);
	sqlite3_bind_int64(s, 2, ss->gen);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		held_of(s, h);
	else if (step != SQLITE_DONE)
		rc = db_fail(ss->db, "cannot read", e);
	if (rc == MB_OK)
		*found = step == SQLITE_ROW;
	sqlite3_reset(s);
	return rc;
}

enum mb_rc store_stage_see(struct store_stage *ss,
			   const struct store_contact *c, int64_t id,
			   int *fresh, struct err *e)
{
	sqlite3_stmt *s = ss->ins_seen;
	enum mb_rc rc;

	sqlite3_bind_int64(s, 1, ss->gen);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_int64(s, 3, ss->input_id);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)c->line);
	rc = step_done(ss, s, "cannot write contact into", e);
	if (rc == MB_OK)
		*fresh = sqlite3_changes(ss->db->sql) != 0;
	return rc;
}

enum mb_rc store_stage_see_same(struct store_stage *ss,
				const struct store_contact *c, int *seen,
				struct err *e)
{
	bind_contact_at(ss, ss->see_same, c, 0);
	return step_contact(ss, ss->see_same, seen, e);
}

enum mb_rc store_stage_was_seen(struct store_stage *ss, int64_t id,
				int *seen, struct err *e)
{
	sqlite3_stmt *s = ss->was_seen;
	enum mb_rc rc = MB_OK;
	int step;

	sqlite3_bind_int64(s, 1, ss->gen);
	sqlite3_bind_int64(s, 2, id);
	step = sqlite3_step(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = db_fail(ss->db, "cannot read", e);
	else
		*seen = step == SQLITE_ROW;
	sqlite3_reset(s);
	return rc;
}

/*
 * Loading first.  The rows of a file staged into an empty contacts table
 * go in without the unique indexes on email and external_id, which are
 * built once at the end, sorted: a random insert into an index that no
 * longer fits the page cache reads and writes a page per row.  A file
 * without duplicates or conflicts (the usual first import) is done when
 * the indexes build.  Otherwise the rows sharing an address or an
 * external_id with another row are taken out before building them, and
 * given back to the caller in file order to stage one by one, exactly as
 * they would have been with the indexes in place: the other rows cannot
 * meet them, so the outcome is the same, ids included.
 */
enum mb_rc store_stage_bulk_begin(struct store_stage *ss, int *bulk,
				  struct err *e)
{
	int64_t any = 1;
	enum mb_rc rc;

	*bulk = 0;
	rc = db_int(ss->db, "SELECT EXISTS (SELECT 1 FROM contacts)", &any,
		    e);
	if (rc != MB_OK || any)
		return rc;
	rc = db_exec(ss->db, "DROP INDEX contacts_email;"
		     " DROP INDEX contacts_external_id;", e);
	if (rc == MB_OK)
		*bulk = 1;
	return rc;
}

/*
 * IF NOT EXISTS: the first may have been built when the second failed.
 * The sort takes as much memory as the page cache may: the cache is made
 * small for it (peak RSS, 1M rows: 77 MB with the 32 MiB cache, measured)
 * and given back after (store_inputs.c sets it).
 */
static const char build_indexes_sql[] =
	"PRAGMA cache_size=-8192;"
	"CREATE UNIQUE INDEX IF NOT EXISTS contacts_email ON contacts(email);"
	"CREATE UNIQUE INDEX IF NOT EXISTS contacts_external_id"
	" ON contacts(external_id) WHERE external_id IS NOT NULL;"
	"PRAGMA cache_size=-32768;";

/* The rows that share a key with another, moved to temp.colliding. */
static const char take_colliding_sql[] =
	"DROP TABLE IF EXISTS temp.colliding;"
	"CREATE TEMP TABLE colliding AS SELECT id, email, external_id, body,"
	" source_status, unconfirmed, line, body_hash,"
	" json_type(body, '$.tag_names') IS NOT NULL AS has_tags"
	" FROM contacts WHERE email IN (SELECT email FROM contacts"
	" GROUP BY email HAVING count(*) > 1) OR external_id IN"
	" (SELECT external_id FROM contacts WHERE external_id IS NOT NULL"
	" GROUP BY external_id HAVING count(*) > 1);"
	"DELETE FROM contacts WHERE id IN (SELECT id FROM temp.colliding);";

/* Row s of temp.colliding as a contact to stage (borrowing s's text). */
static void colliding_row(sqlite3_stmt *s, struct store_contact *c)
{
	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(s, 0);
	c->email = (const char *)sqlite3_column_text(s, 1);
	c->email_len = (size_t)sqlite3_column_bytes(s, 1);
	c->ext = (const char *)sqlite3_column_text(s, 2);
	c->ext_len = (size_t)sqlite3_column_bytes(s, 2);
	c->body = (const char *)sqlite3_column_text(s, 3);
	c->body_len = (size_t)sqlite3_column_bytes(s, 3);
	c->suppress = (const char *)sqlite3_column_text(s, 4);
	c->unconfirmed = sqlite3_column_int(s, 5);
	c->line = (unsigned long)sqlite3_column_int64(s, 6);
	c->hash = sqlite3_column_int64(s, 7);
	c->has_tags = sqlite3_column_int(s, 8);
}

/* Hand temp.colliding's rows to fn in file order; drop the table. */
static enum mb_rc replay_colliding(struct store_stage *ss,
				   store_stage_replay_fn *fn, void *ctx,
				   struct err *e)
{
	sqlite3_stmt *s = NULL;
	struct store_contact c;
	enum mb_rc rc;
	int step;

	rc = db_prepare(ss->db, &s, "SELECT id, email, external_id, body,"
			" source_status, unconfirmed, line, body_hash, has_tags"
			" FROM temp.colliding ORDER BY id", e);
	while (rc == MB_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		colliding_row(s, &c);
		rc = fn(ctx, &c, e);
	}
	if (rc == MB_OK && step != SQLITE_DONE)
		rc = db_fail(ss->db, "cannot read", e);
	sqlite3_finalize(s);
	if (rc == MB_OK)
		rc = db_exec(ss->db, "DROP TABLE temp.colliding", e);
	return rc;
}

enum mb_rc store_stage_bulk_end(struct store_stage *ss, int64_t *colliding,
				store_stage_replay_fn *fn, void *ctx,
				struct err *e)
{
	int code;
	enum mb_rc rc;

	*colliding = 0;
	if (sqlite3_exec(ss->db->sql, build_indexes_sql, NULL, NULL,
			 NULL) == SQLITE_OK)
		return MB_OK;
	code = sqlite3_extended_errcode(ss->db->sql);
	if (code != SQLITE_CONSTRAINT_UNIQUE)
		return db_fail(ss->db, "cannot index", e);
	rc = db_exec(ss->db, take_colliding_sql, e);
	if (rc == MB_OK)
		rc = db_int(ss->db, "SELECT count(*) FROM temp.colliding",
			    colliding, e);
	if (rc == MB_OK)
		rc = db_exec(ss->db, build_indexes_sql, e);
	if (rc == MB_OK)
		rc = replay_colliding(ss, fn, ctx, e);
	return rc;
}

enum mb_rc store_stage_vanish(struct db *db, int64_t gen, int64_t *vanished,
			      struct err *e)
{
	/*
	 * The previous generation's contacts this one did not see: where
	 * they were last seen is the previous generation's seen row when
	 * it met them unchanged, else where they were last written.
	 */
	static const char sql[] =
		"UPDATE contacts SET vanished = 1, gen = ?2,"
		" input_id = coalesce((SELECT input_id FROM seen WHERE"
		"  gen = ?2 AND id = contacts.id), input_id),"
		" line = coalesce((SELECT line FROM seen WHERE"
		"  gen = ?2 AND id = contacts.id), line)"
		" WHERE vanished = 0 AND gen < ?1 AND NOT EXISTS (SELECT 1"
		" FROM seen WHERE seen.gen = ?1 AND seen.id = contacts.id)";
	sqlite3_stmt *s = NULL;
	int64_t previous = 0;
	char drop[96];
	enum mb_rc rc;

	rc = db_int(db, "SELECT coalesce(max(id), 0) FROM generations WHERE"
		    " id < (SELECT max(id) FROM generations)", &previous, e);
	if (rc == MB_OK)
		rc = db_prepare(db, &s, sql, e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, gen);
	sqlite3_bind_int64(s, 2, previous);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(db, "cannot update", e);
	else
		*vanished = sqlite3_changes(db->sql);
	sqlite3_finalize(s);
	snprintf(drop, sizeof(drop), "DELETE FROM seen WHERE gen < %lld",
		 (long long)previous);
	if (rc == MB_OK)
		rc = db_exec(db, drop, e);
	return rc;
}

enum mb_rc store_stage_rekey(struct store_stage *ss,
			     const struct store_contact *c,
			     int64_t id, int *changed,
			     struct err *e)
{
	bind_contact_at(ss, ss->rekey, c, 0);
	sqlite3_bind_int64(ss->rekey, 10, id);
	return step_contact(ss, ss->rekey, changed, e);
}

enum mb_rc store_stage_insert_many(struct store_stage *ss,
				   const struct store_contact *c,
				   int *changed, struct err *e)
{
	sqlite3_stmt *s;
	enum mb_rc rc = MB_OK;
	int j;

	/*
	 * Prepared when first needed: its 288 numbered parameters cost
	 * SQLite a quadratic lookup (most of the time of a zip of 3,000
	 * one-row members).
	 */
	if (!ss->ins_multi)
		rc = prepare_multi(ss, e);
	if (rc != MB_OK)
		return rc;
	s = ss->ins_multi;
	for (j = 0; j < STORE_STAGE_MULTI; j++)
		bind_contact_at(ss, s, &c[j], 9 * j);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_reset(s);
		return db_fail(ss->db, "cannot insert contacts into", e);
	}
	sqlite3_reset(s);
	*changed = sqlite3_changes(ss->db->sql);
	return MB_OK;
}

enum mb_rc store_stage_went_in(struct store_stage *ss,
			       const struct store_contact *c,
			       int *went_in, struct err *e)
{
	sqlite3_stmt *s = ss->was_inserted;
	enum mb_rc rc = MB_OK;
	int step;

	if (!s)
		return err_set(e, MB_EINTERNAL, "went-in check before a"
			       " multi-row insert");
	bind_text(s, 1, c->email);
	sqlite3_bind_int64(s, 2, ss->input_id);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)c->line);
	step = sqlite3_step(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = db_fail(ss->db, "cannot read", e);
	else
		*went_in = step == SQLITE_ROW;
	sqlite3_reset(s);
	return rc;
}

enum mb_rc store_stage_reject(struct store_stage *ss,
			      unsigned long line,
			      const char *email,
			      const char *reason,
			      const char *detail, struct err *e)
{
	sqlite3_stmt *s = ss->ins_reject;

	sqlite3_bind_int64(s, 1, ss->input_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)line);
	bind_text(s, 3, email);
	bind_text(s, 4, reason);
	bind_text(s, 5, detail);
	return step_done(ss, s, "cannot record reject in", e);
}

enum mb_rc store_stage_merge(struct store_stage *ss, int64_t id,
			     const struct store_contact *c,
			     struct err *e)
{
	sqlite3_stmt *s = ss->merge;
	enum mb_rc rc;

	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, c->body);
	bind_text(s, 3, c->ext);
	bind_text(s, 4, c->suppress);
	sqlite3_bind_int(s, 5, c->unconfirmed != 0);
	sqlite3_bind_int(s, 6, c->has_tags);
	rc = step_done(ss, s, "cannot merge duplicate into", e);
	if (rc != MB_OK)
		return rc;
	s = ss->ins_dup;
	sqlite3_bind_int64(s, 1, ss->input_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)c->line);
	bind_text(s, 3, c->email);
	sqlite3_bind_int64(s, 4, id);
	return step_done(ss, s, "cannot record duplicate in", e);
}

enum mb_rc store_stage_mark_conflict(struct store_stage *ss,
				     int64_t id,
				     const char *detail,
				     struct err *e)
{
	enum mb_rc rc;

	sqlite3_bind_int64(ss->mark_conflict, 1, id);
	rc = step_done(ss, ss->mark_conflict, "cannot update", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(ss->note_conflict, 1, id);
	bind_text(ss->note_conflict, 2, detail);
	return step_done(ss, ss->note_conflict, "cannot update", e);
}

enum mb_rc store_stage_find(struct store_stage *ss,
			    const char *email, const char *ext,
			    store_stage_match_fn *fn, void *ctx,
			    struct err *e)
{
	sqlite3_stmt *s = ss->find;
	struct store_stage_match m;
	enum mb_rc rc = MB_OK;
	int step;

	bind_text(s, 1, email);
	bind_text(s, 2, ext);
	sqlite3_bind_int64(s, 3, ss->gen);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);

		m.by_email = kind && strcmp(kind, "email") == 0;
		m.id = sqlite3_column_int64(s, 1);
		m.other = (const char *)sqlite3_column_text(s, 2);
		m.gen = sqlite3_column_int64(s, 3);
		m.line = sqlite3_column_int64(s, 4);
		m.input_id = sqlite3_column_int64(s, 5);
		m.path = (const char *)sqlite3_column_text(s, 6);
		fn(ctx, &m);
	}
	if (step != SQLITE_DONE)
		rc = db_fail(ss->db, "cannot read", e);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

enum mb_rc store_stage_reject_conflicts(struct store_stage *ss,
					int64_t *rejected,
					int64_t *moved,
					struct err *e)
{
	/*
	 * Only contacts of this generation never sent can be rejected: one
	 * Meisa holds already, or one this generation has not seen, stays.
	 */
	static const char conflicts[] =
		"CREATE TEMP TABLE IF NOT EXISTS doomed("
		"id INTEGER PRIMARY KEY);"
		"DELETE FROM doomed;"
		"INSERT INTO doomed SELECT id FROM contacts c"
		" WHERE conflict = 1 AND attempts = 0"
		" AND state IN ('pending', 'skipped')"
		" AND " SEEN_SQL("c", LATEST_SQL) ";"
		"INSERT INTO rejects(input_id, line, email, reason, detail)"
		" SELECT input_id, line, email, 'external_id_conflict',"
		" coalesce((SELECT detail FROM temp.conflict_detail WHERE"
		" contact_id = contacts.id), 'another row gives this address"
		" another external_id, or this external_id another address')"
		" FROM contacts WHERE id IN doomed;"
		"INSERT INTO rejects(input_id, line, email, reason, detail)"
		" SELECT input_id, line, email, 'external_id_conflict',"
		" 'duplicate row of a conflicting contact'"
		" FROM duplicates WHERE contact_id IN doomed;"
		"DELETE FROM duplicates WHERE contact_id IN doomed;"
		"DELETE FROM seen WHERE id IN doomed;"
		"DELETE FROM contacts WHERE id IN doomed;"
		"UPDATE contacts SET conflict = 0 WHERE conflict = 1;"
		"DELETE FROM temp.conflict_detail;";
	int64_t doomed = 0, dups = 0;
	enum mb_rc rc;

	rc = db_int(ss->db, "SELECT count(*) FROM duplicates WHERE"
		    " contact_id IN (SELECT id FROM contacts c WHERE"
		    " conflict = 1 AND attempts = 0 AND state IN"
		    " ('pending', 'skipped') AND " SEEN_SQL("c", LATEST_SQL)
		    ")", &dups, e);
	if (rc == MB_OK)
		rc = db_exec(ss->db, conflicts, e);
	if (rc == MB_OK)
		rc = db_int(ss->db, "SELECT count(*) FROM doomed", &doomed, e);
	if (rc == MB_OK) {
		*rejected = doomed;
		*moved = dups;
	}
	return rc;
}

/*
 * Merged contacts get their canonical body back, then their hash, state
 * and cleared fields from it (as REPLACE_SET does for a plain row).
 */
enum mb_rc store_stage_rebuild_merged(struct store_stage *ss,
				      struct err *e)
{
	struct buf sql = BUF_INIT;
	enum mb_rc rc;

	rc = buf_printf(&sql, "UPDATE contacts SET body = n.body,"
		" body_hash = n.hash, merged = 0,"
		" state = CASE WHEN source_status IS NOT NULL THEN 'skipped'"
		"  WHEN acked_hash = n.hash THEN 'upserted' ELSE 'pending' END,"
		" cleared = CASE WHEN acked_hash = n.hash OR"
		"  acked_fields IS NULL THEN cleared ELSE %s END"
		" FROM (SELECT id, body, mb_body_hash(body) AS hash FROM"
		" (SELECT id, %s AS body FROM contacts WHERE merged = 1)) AS n"
		" WHERE contacts.id = n.id", CLEARED_SQL("n.body"),
		store_stage_canonical_sql);
	if (rc == MB_OK)
		rc = db_exec(ss->db, sql.data, e);
	buf_release(&sql);
	return rc;
}
