/*
 * sandbox_stmt: the SQL of the sandbox's endpoints, one prepared
 * statement per slot, and the helpers that run them (see the header).
 */
#include "sandbox_stmt.h"

#include <sqlite3.h>
#include <stdio.h>

static const char *const SQL[S_COUNT] = {
	[S_JSON_TYPE] = "SELECT json_type(?1)",
	[S_JSON_EACH] = "SELECT key, type, value FROM json_each(?1)",
	[S_COUNT_NESTED] = "SELECT count(*) FROM json_each(?1)"
		" WHERE type IN ('object', 'array')",
	[S_FIND_EXT] = "SELECT id, email, status FROM contacts"
		" WHERE external_id = ?1",
	[S_FIND_EMAIL] = "SELECT id, email, status FROM contacts"
		" WHERE email = ?1",
	[S_FIND_ID] = "SELECT id, email, status FROM contacts WHERE id = ?1",
	[S_IS_UNSUB] = "SELECT 1 FROM unsubscribed WHERE email = ?1",
	[S_INSERT_CONTACT] = "INSERT INTO contacts(id, email, external_id,"
		" first_name, last_name, display_name, custom_fields, source,"
		" status, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5,"
		" ?6, json_patch('{}', coalesce(?7, '{}')), ?8, ?9, ?10, ?10)",
	/* Only a real change counts as an update (and fires
	 * contact_updated): re-sending the same body changes nothing. */
	[S_UPDATE_CONTACT] = "UPDATE contacts SET email = ?2,"
		" external_id = coalesce(?3, external_id),"
		" first_name = coalesce(?4, first_name),"
		" last_name = coalesce(?5, last_name),"
		" display_name = coalesce(?6, display_name),"
		" custom_fields = json_patch(custom_fields,"
		"  coalesce(?7, '{}')),"
		" updated_at = ?8"
		" WHERE id = ?1 AND (email IS NOT ?2"
		" OR external_id IS NOT coalesce(?3, external_id)"
		" OR first_name IS NOT coalesce(?4, first_name)"
		" OR last_name IS NOT coalesce(?5, last_name)"
		" OR display_name IS NOT coalesce(?6, display_name)"
		" OR custom_fields IS NOT"
		"  json_patch(custom_fields, coalesce(?7, '{}')))",
	[S_TOUCH_CONTACT] = "UPDATE contacts SET updated_at = ?2"
		" WHERE id = ?1",
	[S_CONTACT_JSON] = "SELECT json_object('id', c.id, 'email', c.email,"
		" 'external_id', c.external_id, 'first_name', c.first_name,"
		" 'last_name', c.last_name, 'display_name', c.display_name,"
		" 'custom_fields', json(c.custom_fields),"
		" 'tags', json((SELECT json_group_array(json_object('id', t.id,"
		"   'name', t.name)) FROM contact_tags ct"
		"   JOIN tags t ON t.name = ct.name"
		"   WHERE ct.contact_id = c.id)),"
		" 'source', c.source, 'status', c.status,"
		" 'created_at', c.created_at, 'updated_at', c.updated_at)"
		" FROM contacts c WHERE c.id = ?1",
	[S_TAG_ENSURE] = "INSERT INTO tags(id, name) VALUES(uuid4(), ?1)"
		" ON CONFLICT(name) DO NOTHING",
	[S_TAG_LINK] = "INSERT OR IGNORE INTO contact_tags(contact_id, name)"
		" VALUES(?1, ?2)",
	[S_TAG_UNLINK] = "DELETE FROM contact_tags"
		" WHERE contact_id = ?1 AND name = ?2",
	[S_TAG_BY_ID] = "SELECT name FROM tags WHERE id = ?1",
	[S_AUTOMATION] = "INSERT INTO automations(kind, contact_id, email,"
		" detail, created_at) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_UNSUB_LIST] = "SELECT email FROM unsubscribed UNION"
		" SELECT email FROM contacts WHERE status <> 'active'"
		" ORDER BY 1",
	[S_EVENT] = "INSERT INTO events(contact_id, event_name, properties,"
		" created_at) VALUES(?1, ?2, coalesce(?3, '{}'), ?4)",
	[S_SEQUENCE] = "SELECT status FROM sequences WHERE slug = ?1",
	[S_ENROLL_STATUS] = "SELECT status FROM enrollments"
		" WHERE email = ?1 AND sequence_slug = ?2",
	[S_ENROLL_PUT] = "INSERT INTO enrollments(email, sequence_slug,"
		" status, created_at, contact_id, trigger_source, metadata)"
		" VALUES(?1, ?2, 'active', ?3, ?4, ?5, ?6)"
		" ON CONFLICT(email, sequence_slug) DO UPDATE SET"
		" status = 'active', created_at = excluded.created_at,"
		" contact_id = excluded.contact_id,"
		" trigger_source = excluded.trigger_source,"
		" metadata = excluded.metadata",
	[S_SEQUENCE_LIST] = "SELECT slug, name, status FROM sequences"
		" WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL"
		" OR instr(lower(slug), lower(?2)) OR instr(lower(name),"
		" lower(?2))) ORDER BY slug",
	[S_ENROLLMENTS_OF] = "SELECT sequence_slug, status FROM enrollments"
		" WHERE email = ?1 ORDER BY created_at, sequence_slug",
	[S_TRIGGER_KNOWN] = "SELECT 1 FROM email_triggers WHERE key = ?1",
	[S_IDEMPOTENT] = "SELECT id FROM sent_emails"
		" WHERE idempotency_key = ?1 AND key_label IS ?2 AND ts > ?3"
		" ORDER BY ts DESC LIMIT 1",
	[S_SENT_EMAIL] = "INSERT INTO sent_emails(id, trigger_key, to_email,"
		" idempotency_key, key_label, status, variables, created_at,"
		" ts)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
};

sqlite3_stmt *sandbox_stmt(struct sandbox_store *st, int slot, struct err *e)
{
	return sandbox_store_stmt(st, slot, SQL[slot], e);
}

enum mb_rc sandbox_step(struct sandbox_store *st, sqlite3_stmt *s, int *row,
			struct err *e)
{
	int r = sqlite3_step(s);

	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return sandbox_store_fail(st, e, "database error");
	*row = r == SQLITE_ROW;
	return MB_OK;
}

enum mb_rc sandbox_exec(struct sandbox_store *st, sqlite3_stmt *s,
			struct err *e)
{
	enum mb_rc rc;
	int row;

	rc = sandbox_step(st, s, &row, e);
	sqlite3_reset(s);
	return rc;
}

void sandbox_bind_str(sqlite3_stmt *s, int i, const char *p)
{
	sqlite3_bind_text(s, i, p, -1, SQLITE_STATIC);
}

/* Copy a text column into a fixed buffer (identifiers, statuses). */
void sandbox_col_copy(sqlite3_stmt *s, int i, char *out, size_t size)
{
	const char *p = (const char *)sqlite3_column_text(s, i);

	snprintf(out, size, "%s", p ? p : "");
}

enum mb_rc sandbox_exists(struct sandbox_store *st, int slot,
			  const char *value, int *yes, struct err *e)
{
	sqlite3_stmt *s = sandbox_stmt(st, slot, e);
	enum mb_rc rc;

	if (!s)
		return MB_EDB;
	sandbox_bind_str(s, 1, value);
	rc = sandbox_step(st, s, yes, e);
	sqlite3_reset(s);
	return rc;
}
