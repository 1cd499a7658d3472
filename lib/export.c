/*
 * export: the rows of store_rows.h, written row by row as CSV.
 */
#include "export.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvwrite.h"
#include "store_rows.h"
#include "xalloc.h"

struct export_kind {
	const char *what;
	enum store_rows_kind rows;
};

static const struct export_kind kinds[] = {
	{ "rejects", STORE_ROWS_REJECTS },
	{ "results", STORE_ROWS_RESULTS },
	{ "suppressed", STORE_ROWS_SUPPRESSED },
	{ "missing", STORE_ROWS_MISSING },
};

static const struct export_kind *find_kind(const char *what)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].what, what) == 0)
			return &kinds[i];
	return NULL;
}

/* The files SQLite keeps for a database: itself and its sidecars. */
static const char *const db_files[] = { "", "-wal", "-shm", "-journal" };

/*
 * path with its directory resolved (symlinks, "..") and its last part kept,
 * so that a name that does not exist yet still compares.  Caller frees.
 */
static char *resolved(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *real, *out;

	out = realpath(path, NULL);
	if (out)
		return out;
	dir = slash ? xstrndup(path, (size_t)(slash - path + 1)) :
		xstrdup(".");
	real = realpath(dir, NULL);
	free(dir);
	if (!real)
		return xstrdup(path);
	out = xmalloc(strlen(real) + strlen(path) + 2);
	sprintf(out, "%s/%s", real, slash ? slash + 1 : path);
	free(real);
	return out;
}

/* Which of db's files path is (same inode or same resolved name), or -1. */
static int db_file_index(const char *db_path, const char *path)
{
	char *out = resolved(path), *db = resolved(db_path), *name;
	struct stat st_out, st;
	int have_out = stat(path, &st_out) == 0, found = -1;
	size_t i;

	for (i = 0; found < 0 && i < sizeof(db_files) / sizeof(*db_files);
	     i++) {
		name = xmalloc(strlen(db) + 10);
		sprintf(name, "%s%s", db, db_files[i]);
		if (!strcmp(name, out) || (have_out && stat(name, &st) == 0 &&
		    st.st_dev == st_out.st_dev && st.st_ino == st_out.st_ino))
			found = (int)i;
		free(name);
	}
	free(out);
	free(db);
	return found;
}

/* An existing regular file that starts with SQLite's magic header. */
static int is_sqlite_file(const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat st;
	int fd, yes = 0;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	yes = read(fd, head, sizeof(head)) == (ssize_t)sizeof(head) &&
	      !memcmp(head, magic, sizeof(magic));
	close(fd);
	return yes;
}

enum mb_rc export_check_output(const char *db_path, const char *path,
			       struct err *e)
{
	int i;

	if (!strcmp(path, "-"))
		return MB_OK;
	i = db_path ? db_file_index(db_path, path) : -1;
	if (i == 0)
		return err_set(e, MB_EUSAGE, "refusing to write '%s': it is"
			       " the staging file '%s'", path, db_path);
	if (i > 0)
		return err_set(e, MB_EUSAGE, "refusing to write '%s': it is"
			       " the staging file's %s file", path,
			       db_files[i] + 1);
	if (is_sqlite_file(path))
		return err_set(e, MB_EUSAGE, "refusing to write '%s': it is"
			       " an SQLite database (a staging file?); choose"
			       " another name", path);
	return MB_OK;
}

/* The header, then every row of the cursor. */
static enum mb_rc write_rows(struct store_rows *rows, struct csvwrite *w,
			     uint64_t *count, struct err *e)
{
	struct store_row row;
	enum mb_rc rc;

	store_rows_header(rows, &row);
	rc = csvwrite_row(w, row.cells, row.ncells, e);
	while (rc == MB_OK && (rc = store_rows_next(rows, &row, e)) == MB_OK &&
	       !row.done) {
		rc = csvwrite_row(w, row.cells, row.ncells, e);
		(*count)++;
	}
	return rc;
}

enum mb_rc export_table(struct db *db, const char *what, const char *path,
			uint64_t *rows, struct err *e)
{
	const struct export_kind *kind = find_kind(what);
	struct csvwrite w = CSVWRITE_INIT;
	struct store_rows cursor = STORE_ROWS_INIT;
	enum mb_rc rc;

	*rows = 0;
	if (!kind)
		return err_set(e, MB_EUSAGE, "unknown export '%s' (rejects,"
			       " results, suppressed, missing, unsubscribed)",
			       what);
	rc = export_check_output(db->path, path, e);
	if (rc == MB_OK)
		rc = store_rows_open(&cursor, db, kind->rows, e);
	if (rc == MB_OK)
		rc = csvwrite_open(&w, path, e);
	if (rc == MB_OK)
		rc = write_rows(&cursor, &w, rows, e);
	if (rc == MB_OK)
		rc = csvwrite_close(&w, e);
	else
		csvwrite_abort(&w);
	store_rows_close(&cursor);
	return rc;
}

enum mb_rc export_emails(const char *db_path, const char *path,
			 const char *const *emails, size_t n, struct err *e)
{
	struct csvwrite w = CSVWRITE_INIT;
	const char *header = "email";
	enum mb_rc rc;
	size_t i;

	rc = export_check_output(db_path, path, e);
	if (rc == MB_OK)
		rc = csvwrite_open(&w, path, e);
	if (rc == MB_OK)
		rc = csvwrite_row(&w, &header, 1, e);
	for (i = 0; rc == MB_OK && i < n; i++)
		rc = csvwrite_row(&w, &emails[i], 1, e);
	if (rc == MB_OK)
		return csvwrite_close(&w, e);
	csvwrite_abort(&w);
	return rc;
}
