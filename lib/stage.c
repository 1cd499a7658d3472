/*
 * stage: inputs -> contacts, rejects and duplicates in the staging file.
 *
 * The hot path per row is: mapping_apply, stage_body, one INSERT.  A
 * duplicate address or external_id makes that INSERT fail on a unique index;
 * only then does the slow path look the contact up and merge in SQL.
 */
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvread.h"
#include "json.h"
#include "sha256.h"
#include "source.h"
#include "xalloc.h"

/* Rows per transaction are unlimited: one transaction per file. */

const char stage_canonical_sql[] =
	"json_patch('{}', json_object("
	" 'email', json_extract(body, '$.email'),"
	" 'external_id', json_extract(body, '$.external_id'),"
	" 'first_name', json_extract(body, '$.first_name'),"
	" 'last_name', json_extract(body, '$.last_name'),"
	" 'display_name', json_extract(body, '$.display_name'),"
	" 'source', json_extract(body, '$.source'),"
	" 'custom_fields', CASE WHEN json_type(body, '$.custom_fields')"
	"  = 'object' THEN json((SELECT json_group_object(key, json(CASE type"
	"  WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
	"  WHEN 'null' THEN 'null' ELSE json_quote(value) END))"
	"  FROM (SELECT key, value, type FROM json_each(body, '$.custom_fields')"
	"  ORDER BY key))) END,"
	" 'tag_names', json_extract(body, '$.tag_names')))";

struct fingerprint {
	uint64_t size;
	char sha256[65];
};

struct stager {
	struct db *db;
	const struct stage_opts *opts;
	const char *path;
	int64_t input_id;
	struct mapping map;
	int have_header;
	struct record rec;
	struct buf body;
	sqlite3_stmt *ins_contact;
	sqlite3_stmt *ins_reject;
	sqlite3_stmt *ins_dup;
	sqlite3_stmt *find;
	sqlite3_stmt *merge;
	sqlite3_stmt *mark_conflict;
	uint64_t rows_read;
	uint64_t usable;         /* rows that became or joined a contact */
	unsigned long last_line;
};

static const char *nonempty(const struct buf *b)
{
	return b->len ? b->data : NULL;
}

static void bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

static enum mb_rc add_member(struct buf *out, const char *key,
			     const struct buf *value)
{
	enum mb_rc rc;

	if (!value->len)
		return MB_OK;
	rc = buf_printf(out, ",\"%s\":", key);
	if (rc == MB_OK)
		rc = json_add_string(out, value->data, value->len);
	return rc;
}

enum mb_rc stage_body(const struct record *rec, const char *source,
		      struct buf *out)
{
	enum mb_rc rc;

	rc = buf_addstr(out, "{\"email\":");
	if (rc == MB_OK)
		rc = json_add_string(out, rec->email.data, rec->email.len);
	if (rc == MB_OK)
		rc = add_member(out, "external_id", &rec->external_id);
	if (rc == MB_OK)
		rc = add_member(out, "first_name", &rec->first_name);
	if (rc == MB_OK)
		rc = add_member(out, "last_name", &rec->last_name);
	if (rc == MB_OK)
		rc = add_member(out, "display_name", &rec->display_name);
	if (rc == MB_OK)
		rc = buf_printf(out, ",\"source\":\"%s\"", source);
	if (rc == MB_OK && rec->custom.len > 2) {
		rc = buf_addstr(out, ",\"custom_fields\":");
		if (rc == MB_OK)
			rc = buf_add(out, rec->custom.data, rec->custom.len);
	}
	if (rc == MB_OK && rec->tags.len > 2) {
		rc = buf_addstr(out, ",\"tag_names\":");
		if (rc == MB_OK)
			rc = buf_add(out, rec->tags.data, rec->tags.len);
	}
	if (rc == MB_OK)
		rc = buf_addch(out, '}');
	return rc;
}

static enum mb_rc fingerprint_file(const char *path, struct fingerprint *fp,
				   struct err *e)
{
	static char block[1 << 16];
	struct sha256 sha;
	unsigned char digest[32];
	enum mb_rc rc = MB_OK;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s", path,
			       strerror(errno));
	sha256_init(&sha);
	fp->size = 0;
	while ((n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(e, MB_EIO, "cannot read '%s': %s", path,
				     strerror(errno));
			break;
		}
		sha256_update(&sha, block, (size_t)n);
		fp->size += (uint64_t)n;
	}
	close(fd);
	if (rc != MB_OK)
		return rc;
	sha256_final(&sha, digest);
	sha256_hex(digest, fp->sha256);
	return MB_OK;
}

static enum mb_rc prepare_all(struct stager *st, struct err *e)
{
	struct {
		sqlite3_stmt **stmt;
		const char *sql;
	} list[] = {
		{ &st->ins_contact,
		  "INSERT INTO contacts(email, external_id, body, source_status,"
		  " unconfirmed, state, input_id, line)"
		  " VALUES(?1, ?2, ?3, ?4, ?5,"
		  " CASE WHEN ?4 IS NULL THEN 'pending' ELSE 'skipped' END,"
		  " ?6, ?7)" },
		{ &st->ins_reject,
		  "INSERT INTO rejects(input_id, line, email, reason, detail)"
		  " VALUES(?, ?, ?, ?, ?)" },
		{ &st->ins_dup,
		  "INSERT INTO duplicates(input_id, line, email, contact_id)"
		  " VALUES(?, ?, ?, ?)" },
		{ &st->find,
		  "SELECT 'email', id, external_id FROM contacts WHERE email=?1"
		  " UNION ALL SELECT 'external_id', id, email FROM contacts"
		  " WHERE ?2 IS NOT NULL AND external_id=?2" },
		/*
		 * json_patch replaces arrays, so tag_names is rebuilt as the
		 * union (old first, in order) when the new row brings tags.
		 */
		{ &st->merge,
		  "UPDATE contacts SET body = CASE WHEN ?6 THEN"
		  " json_set(json_patch(body, ?2), '$.tag_names', json((SELECT"
		  " json_group_array(value) FROM (SELECT value FROM"
		  " json_each(contacts.body, '$.tag_names') UNION ALL SELECT"
		  " n.value FROM json_each(?2, '$.tag_names') AS n WHERE"
		  " n.value NOT IN (SELECT value FROM"
		  " json_each(contacts.body, '$.tag_names'))))))"
		  " ELSE json_patch(body, ?2) END,"
		  " external_id = coalesce(external_id, ?3),"
		  " source_status = coalesce(source_status, ?4),"
		  " unconfirmed = (unconfirmed AND ?5),"
		  " state = CASE WHEN state = 'pending' AND"
		  "  coalesce(source_status, ?4) IS NOT NULL THEN 'skipped'"
		  "  ELSE state END,"
		  " merged = 1 WHERE id = ?1" },
		{ &st->mark_conflict,
		  "UPDATE contacts SET conflict = 1 WHERE id = ?" },
	};
	size_t i;
	enum mb_rc rc;

	for (i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		rc = db_prepare(st->db, list[i].stmt, list[i].sql, e);
		if (rc != MB_OK)
			return rc;
	}
	return MB_OK;
}

static void finalize_all(struct stager *st)
{
	sqlite3_finalize(st->ins_contact);
	sqlite3_finalize(st->ins_reject);
	sqlite3_finalize(st->ins_dup);
	sqlite3_finalize(st->find);
	sqlite3_finalize(st->merge);
	sqlite3_finalize(st->mark_conflict);
}

static enum mb_rc step_done(struct stager *st, sqlite3_stmt *stmt,
			    const char *what, struct err *e)
{
	int step = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (step != SQLITE_DONE)
		return db_fail(st->db, what, e);
	return MB_OK;
}

static enum mb_rc add_reject(struct stager *st, unsigned long line,
			     const char *email, const char *reason,
			     const char *detail, struct err *e)
{
	sqlite3_stmt *s = st->ins_reject;

	sqlite3_bind_int64(s, 1, st->input_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)line);
	bind_text(s, 3, email);
	bind_text(s, 4, reason);
	bind_text(s, 5, detail);
	return step_done(st, s, "cannot record reject in", e);
}

static enum mb_rc mark_conflict(struct stager *st, int64_t id,
				struct err *e)
{
	sqlite3_bind_int64(st->mark_conflict, 1, id);
	return step_done(st, st->mark_conflict, "cannot update", e);
}

static enum mb_rc merge_row(struct stager *st, int64_t id, unsigned long line,
			    struct err *e)
{
	const struct record *r = &st->rec;
	sqlite3_stmt *s = st->merge;
	enum mb_rc rc;

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, st->body.data, (int)st->body.len,
			  SQLITE_STATIC);
	bind_text(s, 3, nonempty(&r->external_id));
	bind_text(s, 4, r->suppress);
	sqlite3_bind_int(s, 5, r->unconfirmed != 0);
	sqlite3_bind_int(s, 6, r->tags.len > 2);
	rc = step_done(st, s, "cannot merge duplicate into", e);
	if (rc != MB_OK)
		return rc;
	s = st->ins_dup;
	sqlite3_bind_int64(s, 1, st->input_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)line);
	bind_text(s, 3, r->email.data);
	sqlite3_bind_int64(s, 4, id);
	rc = step_done(st, s, "cannot record duplicate in", e);
	if (rc == MB_OK)
		st->usable++;
	return rc;
}

/*
 * The INSERT hit a unique index: the address is staged already (merge), or
 * the external_id belongs to another address, or the address carries another
 * external_id (conflict: reject this row, mark the contact for rejection).
 */
static enum mb_rc slow_path(struct stager *st, unsigned long line,
			    struct err *e)
{
	const struct record *r = &st->rec;
	const char *ext = nonempty(&r->external_id);
	int64_t email_id = 0, ext_id = 0;
	char other[512] = "";
	int conflict = 0;
	enum mb_rc rc = MB_OK;

	bind_text(st->find, 1, r->email.data);
	bind_text(st->find, 2, ext);
	while (sqlite3_step(st->find) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(
			st->find, 0);
		const char *val = (const char *)sqlite3_column_text(
			st->find, 2);

		if (strcmp(kind, "email") == 0) {
			email_id = sqlite3_column_int64(st->find, 1);
			if (ext && val && strcmp(ext, val) != 0) {
				conflict = 1;
				snprintf(other, sizeof(other), "address"
					 " already staged with external_id"
					 " '%.200s'", val);
			}
		} else {
			ext_id = sqlite3_column_int64(st->find, 1);
		}
	}
	sqlite3_reset(st->find);
	sqlite3_clear_bindings(st->find);
	if (ext_id && ext_id != email_id) {
		conflict = 1;
		snprintf(other, sizeof(other), "external_id '%.200s' already"
			 " staged for another address", ext);
		rc = mark_conflict(st, ext_id, e);
	}
	if (rc == MB_OK && conflict && email_id)
		rc = mark_conflict(st, email_id, e);
	if (rc != MB_OK)
		return rc;
	if (conflict)
		return add_reject(st, line, r->email.data,
				  "external_id_conflict", other, e);
	if (!email_id)
		return db_fail(st->db, "cannot insert contact into", e);
	return merge_row(st, email_id, line, e);
}

static enum mb_rc insert_row(struct stager *st, unsigned long line,
			     struct err *e)
{
	const struct record *r = &st->rec;
	sqlite3_stmt *s = st->ins_contact;
	enum mb_rc rc;
	int step;

	buf_reset(&st->body);
	rc = stage_body(r, st->opts->source, &st->body);
	if (rc != MB_OK)
		return err_set(e, rc, "'%s' line %lu: contact too large",
			       st->path, line);
	sqlite3_bind_text(s, 1, r->email.data, (int)r->email.len,
			  SQLITE_STATIC);
	bind_text(s, 2, nonempty(&r->external_id));
	sqlite3_bind_text(s, 3, st->body.data, (int)st->body.len,
			  SQLITE_STATIC);
	bind_text(s, 4, r->suppress);
	sqlite3_bind_int(s, 5, r->unconfirmed != 0);
	sqlite3_bind_int64(s, 6, st->input_id);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)line);
	step = sqlite3_step(s);
	sqlite3_reset(s);
	if (step == SQLITE_DONE) {
		st->usable++;
		return MB_OK;
	}
	if ((step & 0xff) == SQLITE_CONSTRAINT)
		return slow_path(st, line, e);
	return db_fail(st->db, "cannot insert contact into", e);
}

static enum mb_rc on_header(struct stager *st, const struct csv_row *row,
			    struct err *e)
{
	if (row->error)
		return err_set(e, MB_EDATA, "'%s' line %lu: cannot read the"
			       " header row: %s", st->path, row->line,
			       row->error);
	st->have_header = 1;
	return mapping_build(&st->map, &st->opts->map, st->path, row, e);
}

static enum mb_rc on_row(void *ctx, const struct csv_row *row, struct err *e)
{
	struct stager *st = ctx;
	enum mb_rc rc;

	if (!st->have_header)
		return on_header(st, row, e);
	st->rows_read++;
	st->last_line = row->line;
	rc = mapping_apply(&st->map, row, &st->rec, e);
	if (rc != MB_OK)
		return rc;
	if (st->rec.reject)
		return add_reject(st, row->line, nonempty(&st->rec.email),
				  st->rec.reject,
				  nonempty(&st->rec.reject_detail), e);
	return insert_row(st, row->line, e);
}

/*
 * End of a file: rows of contacts marked as conflicting become rejects
 * (unless the contact already reached Meisa in an earlier run: nothing can
 * undo that), and merged contacts get their canonical body back.
 */
static enum mb_rc finish_file(struct stager *st, struct err *e)
{
	static const char conflicts[] =
		"CREATE TEMP TABLE IF NOT EXISTS doomed(id INTEGER PRIMARY KEY);"
		"DELETE FROM doomed;"
		"INSERT INTO doomed SELECT id FROM contacts WHERE conflict = 1"
		" AND attempts = 0 AND state IN ('pending', 'skipped');"
		"INSERT INTO rejects(input_id, line, email, reason, detail)"
		" SELECT input_id, line, email, 'external_id_conflict',"
		" 'another row gives this address another external_id, or"
		" this external_id another address'"
		" FROM contacts WHERE id IN doomed;"
		"INSERT INTO rejects(input_id, line, email, reason, detail)"
		" SELECT input_id, line, email, 'external_id_conflict',"
		" 'duplicate row of a conflicting contact'"
		" FROM duplicates WHERE contact_id IN doomed;"
		"DELETE FROM duplicates WHERE contact_id IN doomed;"
		"DELETE FROM contacts WHERE id IN doomed;"
		"UPDATE contacts SET conflict = 0 WHERE conflict = 1;";
	struct buf sql = BUF_INIT;
	enum mb_rc rc;

	rc = db_exec(st->db, conflicts, e);
	if (rc == MB_OK)
		rc = buf_printf(&sql, "UPDATE contacts SET body = %s, merged = 0"
				" WHERE merged = 1", stage_canonical_sql);
	if (rc == MB_OK)
		rc = db_exec(st->db, sql.data, e);
	buf_release(&sql);
	return rc;
}

static enum mb_rc insert_input(struct stager *st, const struct fingerprint *fp,
			       struct err *e)
{
	sqlite3_stmt *s = NULL;
	char now[32];
	enum mb_rc rc;

	db_now_iso(now, sizeof(now));
	rc = db_prepare(st->db, &s, "INSERT INTO inputs(path, size, sha256,"
			" staged_at) VALUES(?, ?, ?, ?)", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, st->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)fp->size);
	sqlite3_bind_text(s, 3, fp->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, now, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(st->db, "cannot record input in", e);
	sqlite3_finalize(s);
	st->input_id = sqlite3_last_insert_rowid(st->db->sql);
	return rc;
}

static enum mb_rc update_input(struct stager *st, const struct source *src,
			       char delimiter, int complete,
			       const char *error, struct err *e)
{
	sqlite3_stmt *s = NULL;
	char delim[2] = { delimiter, '\0' };
	enum mb_rc rc;

	rc = db_prepare(st->db, &s, "UPDATE inputs SET kind = ?, preset = ?,"
			" delimiter = ?, rows_read = ?, complete = ?,"
			" error = ?,"
			" rejected = (SELECT count(*) FROM rejects"
			"  WHERE input_id = inputs.id),"
			" duplicates = (SELECT count(*) FROM duplicates"
			"  WHERE input_id = inputs.id) WHERE id = ?", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, src->is_gzip ? "gzip" : "plain", -1,
			  SQLITE_STATIC);
	bind_text(s, 2, st->map.preset);
	bind_text(s, 3, delimiter ? delim : NULL);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)st->rows_read);
	sqlite3_bind_int(s, 5, complete);
	bind_text(s, 6, error);
	sqlite3_bind_int64(s, 7, st->input_id);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(st->db, "cannot record input in", e);
	sqlite3_finalize(s);
	return rc;
}

static void warn(const struct stage_opts *opts, const char *msg)
{
	if (opts->warn)
		opts->warn(opts->warn_ctx, msg);
}

/*
 * Read one file inside the current transaction.  *damaged is set when the
 * file broke off (corrupt gzip) after some rows: those rows are kept.
 */
static enum mb_rc read_file(struct stager *st, struct source *src,
			    char *delimiter, struct err *e)
{
	struct csvread_opts copts = CSVREAD_OPTS_INIT;
	enum mb_rc rc;

	copts.delimiter = st->opts->delimiter;
	rc = source_open(src, st->path, e);
	if (rc != MB_OK)
		return rc;
	rc = csvread_run(src, &copts, on_row, st, delimiter, e);
	if (rc == MB_OK && !st->have_header)
		rc = err_set(e, MB_EDATA, "'%s' is empty: no header row",
			     st->path);
	return rc;
}

static enum mb_rc stage_one(struct db *db, const struct stage_opts *opts,
			    const char *path, const struct fingerprint *fp,
			    struct stage_counts *counts, struct err *e)
{
	struct stager st;
	struct source src = SOURCE_INIT;
	struct err file_err = ERR_INIT;
	char delimiter = 0;
	enum mb_rc rc, read_rc;

	memset(&st, 0, sizeof(st));
	st.db = db;
	st.opts = opts;
	st.path = path;
	st.map = (struct mapping)MAPPING_INIT;
	record_init(&st.rec);
	buf_init(&st.body, BUF_MAX_DEFAULT);
	rc = db_begin(db, e);
	if (rc != MB_OK)
		goto out;
	rc = prepare_all(&st, e);
	if (rc == MB_OK)
		rc = insert_input(&st, fp, e);
	if (rc != MB_OK)
		goto out;
	read_rc = read_file(&st, &src, &delimiter, &file_err);
	if (read_rc == MB_EDB || read_rc == MB_ELOCKED ||
	    read_rc == MB_EINTERNAL || read_rc == MB_EIO) {
		*e = file_err;
		rc = read_rc;
		goto out;
	}
	if (read_rc != MB_OK && !st.usable && !st.rows_read) {
		/* Unusable as a whole: keep nothing but the reason. */
		*e = file_err;
		rc = read_rc;
		goto out;
	}
	if (read_rc != MB_OK) {
		char msg[ERR_MSG_MAX + 64];

		snprintf(msg, sizeof(msg), "%s; kept the %llu rows read up to"
			 " line %lu", file_err.msg,
			 (unsigned long long)st.rows_read, st.last_line);
		warn(opts, msg);
	}
	rc = finish_file(&st, e);
	if (rc == MB_OK)
		rc = update_input(&st, &src, delimiter, read_rc == MB_OK,
				  read_rc == MB_OK ? NULL : file_err.msg, e);
	if (rc == MB_OK) {
		finalize_all(&st);
		st.ins_contact = st.ins_reject = st.ins_dup = NULL;
		st.find = st.merge = st.mark_conflict = NULL;
		rc = db_commit(db, e);
	}
	if (rc == MB_OK) {
		counts->files_staged++;
		counts->rows_read += st.rows_read;
	}
out:
	finalize_all(&st);
	if (rc != MB_OK)
		db_rollback(db);
	source_close(&src);
	mapping_release(&st.map);
	record_release(&st.rec);
	buf_release(&st.body);
	return rc;
}

static enum mb_rc already_staged(struct db *db, const struct fingerprint *fp,
				 int *found, struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;
	int step;

	rc = db_prepare(db, &s, "SELECT 1 FROM inputs WHERE sha256 = ?", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, fp->sha256, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	*found = step == SQLITE_ROW;
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = db_fail(db, "cannot read", e);
	sqlite3_finalize(s);
	return rc;
}

static enum mb_rc table_counts(struct db *db, int64_t out[3], struct err *e)
{
	enum mb_rc rc;

	rc = db_int(db, "SELECT count(*) FROM rejects", &out[0], e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT count(*) FROM duplicates", &out[1], e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT count(*) FROM contacts", &out[2], e);
	return rc;
}

enum mb_rc stage_files(struct db *db, const struct stage_opts *opts,
		       const char *const *paths, size_t npaths,
		       struct stage_counts *counts, struct err *e)
{
	struct fingerprint *fps;
	int64_t before[3], after[3];
	enum mb_rc rc = MB_OK, file_rc;
	size_t i;
	int found;

	memset(counts, 0, sizeof(*counts));
	fps = xcalloc(npaths, sizeof(*fps));
	for (i = 0; i < npaths && rc == MB_OK; i++)
		rc = fingerprint_file(paths[i], &fps[i], e);
	if (rc == MB_OK)
		rc = table_counts(db, before, e);
	/* Staging speed: a crash mid-file commits nothing of it anyway. */
	if (rc == MB_OK)
		rc = db_exec(db, "PRAGMA synchronous=OFF;"
			     " PRAGMA cache_size=-32768;", e);
	for (i = 0; i < npaths && rc == MB_OK; i++) {
		struct err file_err = ERR_INIT;

		rc = already_staged(db, &fps[i], &found, e);
		if (rc != MB_OK)
			break;
		if (found) {
			char msg[ERR_MSG_MAX];

			snprintf(msg, sizeof(msg), "'%s' was staged before"
				 " (same content); skipping it", paths[i]);
			warn(opts, msg);
			counts->files_skipped++;
			continue;
		}
		file_rc = stage_one(db, opts, paths[i], &fps[i], counts,
				    &file_err);
		if (file_rc == MB_EDATA || file_rc == MB_ENOINPUT) {
			warn(opts, file_err.msg);
			counts->files_failed++;
			continue;
		}
		if (file_rc != MB_OK) {
			*e = file_err;
			rc = file_rc;
		}
	}
	if (rc == MB_OK)
		rc = table_counts(db, after, e);
	if (rc == MB_OK) {
		counts->rejected = (uint64_t)(after[0] - before[0]);
		counts->duplicates = (uint64_t)(after[1] - before[1]);
		counts->contacts_new = (uint64_t)(after[2] - before[2]);
		rc = db_exec(db, "PRAGMA synchronous=NORMAL;", e);
	}
	free(fps);
	if (rc == MB_OK && counts->files_failed)
		rc = err_set(e, MB_EDATA, "%llu of %zu files could not be"
			     " staged", (unsigned long long)
			     counts->files_failed, npaths);
	return rc;
}
