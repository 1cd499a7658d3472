/*
 * metrics: the status object as a Prometheus textfile (metrics.h).
 *
 * The status object is read with SQLite's JSON functions on a private
 * in-memory connection, as meisa.c reads answers: no caller's handle runs
 * our query, and the values are status's own, never counted twice.
 */
#include "metrics.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

/* The columns of read_sql, in order. */
enum {
	COL_DB, COL_PENDING, COL_UPSERTED, COL_FAILED, COL_SKIPPED,
	COL_ENROLLED, COL_MISSING, COL_REQUESTS, COL_EXIT, COL_STARTED,
	COL_ENDED, COL_RETRIES, COL_THROTTLED,
};

static const char read_sql[] =
	"SELECT json_extract(?1, '$.staging_file'),"
	" json_extract(?1, '$.pending'), json_extract(?1, '$.upserted'),"
	" json_extract(?1, '$.failed'), json_extract(?1, '$.skipped'),"
	" json_extract(?1, '$.enrolled'), json_extract(?1, '$.missing'),"
	" json_extract(?1, '$.requests'),"
	" json_extract(?1, '$.last_run.exit_status'),"
	" json_extract(?1, '$.last_run.started_at'),"
	" json_extract(?1, '$.last_run.ended_at'),"
	/* A run that pushed nothing (stage) retried nothing. */
	" CASE WHEN json_type(?1, '$.last_run') = 'object' THEN"
	"  coalesce(json_extract(?1, '$.last_run.summary.push.retries'), 0)"
	" END,"
	" CASE WHEN json_type(?1, '$.last_run') = 'object' THEN"
	"  coalesce(json_extract(?1, '$.last_run.summary.push.throttled'), 0)"
	" END"
	" WHERE json_valid(?1) AND json_type(?1) = 'object'";

/* What one metric is: the exposition's HELP and TYPE, and its column. */
struct family {
	const char *name, *type, *help;
	int col;                 /* COL_PENDING: the contacts by state;
				    -1: meisa_bulk_running */
};

static const struct family families[] = {
	{ "meisa_bulk_contacts", "gauge", "Contacts of the latest generation"
	  " by state (sent counts as pending), as status --json.",
	  COL_PENDING },
	{ "meisa_bulk_enrolled", "gauge", "Contacts enrolled in the sequence.",
	  COL_ENROLLED },
	{ "meisa_bulk_missing", "gauge", "Contacts of the previous generation"
	  " missing from the latest one.", COL_MISSING },
	{ "meisa_bulk_requests_total", "counter", "Requests sent to Meisa by"
	  " every run of the staging file.", COL_REQUESTS },
	{ "meisa_bulk_retries_total", "counter", "Requests sent again by the"
	  " current or last run.", COL_RETRIES },
	{ "meisa_bulk_throttled_total", "counter", "429 answers to the current"
	  " or last run.", COL_THROTTLED },
	{ "meisa_bulk_last_run_exit_status", "gauge", "Exit status of the last"
	  " run that ended.", COL_EXIT },
	{ "meisa_bulk_last_run_start_timestamp_seconds", "gauge", "When the"
	  " last run started, in seconds since the epoch.", COL_STARTED },
	{ "meisa_bulk_last_run_end_timestamp_seconds", "gauge", "When the"
	  " last run ended, in seconds since the epoch.", COL_ENDED },
	{ "meisa_bulk_running", "gauge", "1 while a push is running.", -1 },
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static const char *const states[] = { "pending", "upserted", "failed",
				      "skipped" };

/* The label value escaped as the exposition format wants it. */
static enum mb_rc add_label_value(struct buf *out, const char *v)
{
	enum mb_rc rc = MB_OK;

	for (; rc == MB_OK && *v; v++) {
		if (*v == '\\' || *v == '"')
			rc = buf_addch(out, '\\');
		if (rc == MB_OK)
			rc = *v == '\n' ? buf_addstr(out, "\\n") :
				buf_addch(out, *v);
	}
	return rc;
}

/* name{db="...",extra} -- extra is "" or `state="x",`. */
static enum mb_rc add_series(struct buf *out, const char *name,
			     const char *extra, const char *db)
{
	enum mb_rc rc = buf_printf(out, "%s{%sdb=\"", name, extra);

	if (rc == MB_OK)
		rc = add_label_value(out, db);
	return rc == MB_OK ? buf_addstr(out, "\"} ") : rc;
}

/*
 * "2026-12-02T16:44:45.123Z" (db_now_iso) as "1796229885.123"; 0 when the
 * text is not that.
 */
static int iso_seconds(const char *iso, char *out, size_t size)
{
	struct tm tm;
	int ms = 0, n = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year,
		   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &ms, &n) != 7 || iso[n] != '\0')
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	snprintf(out, size, "%lld.%03d", (long long)timegm(&tm), ms);
	return 1;
}

/* One column's sample, or nothing when status has no such value. */
static enum mb_rc add_value(struct buf *out, sqlite3_stmt *s,
			    const struct family *f, const char *db)
{
	const char *text = (const char *)sqlite3_column_text(s, f->col);
	char secs[48];
	enum mb_rc rc;

	if (!text)
		return MB_OK;
	if (f->col == COL_STARTED || f->col == COL_ENDED) {
		if (!iso_seconds(text, secs, sizeof(secs)))
			return MB_OK;
		text = secs;
	}
	rc = add_series(out, f->name, "", db);
	if (rc == MB_OK)
		rc = buf_printf(out, "%s\n", text);
	return rc;
}

/* meisa_bulk_contacts, one sample per state. */
static enum mb_rc add_contacts(struct buf *out, sqlite3_stmt *s,
			       const char *db)
{
	static const int cols[] = { COL_PENDING, COL_UPSERTED, COL_FAILED,
				    COL_SKIPPED };
	char extra[32];
	enum mb_rc rc = MB_OK;
	size_t i;

	for (i = 0; rc == MB_OK && i < 4; i++) {
		snprintf(extra, sizeof(extra), "state=\"%s\",", states[i]);
		rc = add_series(out, "meisa_bulk_contacts", extra, db);
		if (rc == MB_OK)
			rc = buf_printf(out, "%lld\n", (long long)
					sqlite3_column_int64(s, cols[i]));
	}
	return rc;
}

/*
 * One family: HELP, TYPE, samples.  Mid-push (live), the last run is the
 * running one: its retries and throttled come from live, and it has no
 * exit status or end yet.
 */
static enum mb_rc add_family(struct buf *out, sqlite3_stmt *s,
			     const struct family *f, const char *db,
			     const struct metrics_live *live)
{
	enum mb_rc rc = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
				   f->name, f->help, f->name, f->type);

	if (rc != MB_OK)
		return rc;
	if (f->col == COL_PENDING)
		return add_contacts(out, s, db);
	if (f->col < 0) {
		rc = add_series(out, f->name, "", db);
		return rc == MB_OK ? buf_printf(out, "%d\n", live != NULL) : rc;
	}
	if (live && (f->col == COL_EXIT || f->col == COL_ENDED))
		return MB_OK;
	if (live && (f->col == COL_RETRIES || f->col == COL_THROTTLED)) {
		rc = add_series(out, f->name, "", db);
		return rc == MB_OK ? buf_printf(out, "%llu\n",
			(unsigned long long)(f->col == COL_RETRIES ?
			live->retries : live->throttled)) : rc;
	}
	return add_value(out, s, f, db);
}

static enum mb_rc format_row(sqlite3_stmt *s, const struct metrics_live *live,
			     struct buf *out)
{
	const char *db = (const char *)sqlite3_column_text(s, COL_DB);
	enum mb_rc rc = MB_OK;
	size_t i;

	for (i = 0; rc == MB_OK && i < NFAMILIES; i++)
		rc = add_family(out, s, &families[i], db ? db : "", live);
	return rc;
}

enum mb_rc metrics_format(const char *status_json,
			  const struct metrics_live *live, struct buf *out,
			  struct err *e)
{
	sqlite3 *sql = NULL;
	sqlite3_stmt *s = NULL;
	enum mb_rc rc = MB_OK;
	int step;

	buf_reset(out);
	if (sqlite3_open_v2(":memory:", &sql, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(sql, read_sql, -1, &s, NULL) != SQLITE_OK) {
		rc = err_set(e, MB_EINTERNAL, "cannot read the status for the"
			     " metrics: %s", sql ? sqlite3_errmsg(sql) :
			     "out of memory");
		goto out;
	}
	sqlite3_bind_text(s, 1, status_json, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		rc = format_row(s, live, out);
	else
		rc = err_set(e, step == SQLITE_DONE ? MB_EPROTO :
			     MB_EINTERNAL, "cannot read the status for the"
			     " metrics: %s", step == SQLITE_DONE ?
			     "not a status object" : sqlite3_errmsg(sql));
	if (rc == MB_ETOOBIG)
		err_set(e, rc, "the metrics text is too large");
out:
	sqlite3_finalize(s);
	sqlite3_close(sql);
	return rc;
}

/* The temporary file's name: ".NAME.XXXXXX" beside path. */
static char *temp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
	size_t size = strlen(path) + 16;
	char *name = xmalloc(size);

	snprintf(name, size, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
	return name;
}

static enum mb_rc write_all(int fd, const struct buf *text)
{
	size_t done = 0;
	ssize_t n;

	while (done < text->len) {
		n = write(fd, text->data + done, text->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return MB_EIO;
		done += (size_t)n;
	}
	return MB_OK;
}

enum mb_rc metrics_write(const char *path, const struct buf *text,
			 struct err *e)
{
	char *tmp = temp_name(path);
	int fd = mkstemp(tmp);
	enum mb_rc rc = MB_OK;

	if (fd < 0) {
		rc = err_set(e, MB_EIO, "cannot write metrics file '%s': %s",
			     path, strerror(errno));
		goto out;
	}
	/* node_exporter runs as another user: the file holds no personal
	 * data, only counts and the staging file's path. */
	if (fchmod(fd, 0644) != 0 || write_all(fd, text) != MB_OK ||
	    fsync(fd) != 0)
		rc = err_set(e, MB_EIO, "cannot write metrics file '%s': %s",
			     path, strerror(errno ? errno : EIO));
	if (close(fd) != 0 && rc == MB_OK)
		rc = err_set(e, MB_EIO, "cannot write metrics file '%s': %s",
			     path, strerror(errno));
	if (rc == MB_OK && rename(tmp, path) != 0)
		rc = err_set(e, MB_EIO, "cannot write metrics file '%s': %s",
			     path, strerror(errno));
	if (rc != MB_OK)
		unlink(tmp);
out:
	free(tmp);
	return rc;
}
