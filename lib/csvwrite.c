/*
 * csvwrite: spreadsheet-safe CSV files, written to a temporary name and
 * renamed into place.
 *
 * Each row is built in w->line and written with one call.  Lines end in CR
 * LF as RFC 4180 says (Python's csv module and sqlite3 write the same, and
 * every reader accepts it).
 */
#include "csvwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "xalloc.h"

#define LINE_END "\r\n"

/* Exported rows are small; a bigger cap only delays a runaway's error. */
#define LINE_MAX_BYTES ((size_t)16 << 20)

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static enum mb_rc create_tmp(struct csvwrite *w, int *fd_out, struct err *e)
{
	int fd;

	w->tmp_path = xmalloc(strlen(w->path) + sizeof(".tmp-XXXXXX"));
	sprintf(w->tmp_path, "%s.tmp-XXXXXX", w->path);
	/* mkostemp opens with O_CREAT | O_EXCL and mode 0600. */
	fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (fd < 0) {
		free(w->tmp_path);
		w->tmp_path = NULL;
		return err_set(e, MB_EIO, "cannot create '%s': %s", w->path,
			       strerror(errno));
	}
	/* Personal data: 0600 even if the umask or the C library differ. */
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
		err_set(e, MB_EIO, "cannot set the mode of '%s': %s",
			w->tmp_path, strerror(errno));
		close(fd);
		return MB_EIO;
	}
	*fd_out = fd;
	return MB_OK;
}

static enum mb_rc open_stream(struct csvwrite *w, int fd, struct err *e)
{
	if (w->is_gzip) {
		w->file = gzdopen(fd, "wb");
		if (w->file)
			gzbuffer(w->file, 64 * 1024);
	} else {
		w->file = fdopen(fd, "w");
	}
	if (!w->file) {
		close(fd);
		return err_set(e, MB_EIO, "cannot open '%s' for writing: %s",
			       w->tmp_path, strerror(errno ? errno : ENOMEM));
	}
	return MB_OK;
}

enum mb_rc csvwrite_open(struct csvwrite *w, const char *path, struct err *e)
{
	enum mb_rc rc;
	int fd = -1;

	buf_init(&w->line, LINE_MAX_BYTES);
	w->path = xstrdup(path);
	w->tmp_path = NULL;
	w->file = NULL;
	w->fd = -1;
	w->is_stdout = !strcmp(path, "-");
	w->is_gzip = !w->is_stdout && ends_with(path, ".gz");
	if (w->is_stdout) {
		w->file = stdout;
		return MB_OK;
	}
	rc = create_tmp(w, &fd, e);
	if (rc == MB_OK) {
		w->fd = fd;
		rc = open_stream(w, fd, e);
	}
	if (rc != MB_OK)
		csvwrite_abort(w);
	return rc;
}

static int needs_quotes(const char *cell)
{
	return cell[strcspn(cell, ",\"\r\n")] != '\0';
}

/* SPEC.md: =, +, -, @, TAB or CR first would make a spreadsheet formula. */
static int needs_neutralising(const char *cell)
{
	return cell[0] && strchr("=+-@\t\r", cell[0]);
}

enum mb_rc csvwrite_cell(struct buf *out, const char *cell)
{
	enum mb_rc rc = MB_OK;
	int quote;
	const char *p;

	if (!cell)
		return MB_OK;
	quote = needs_quotes(cell);
	if (quote)
		rc = buf_addch(out, '"');
	if (rc == MB_OK && needs_neutralising(cell))
		rc = buf_addch(out, '\'');
	if (!quote)
		return rc == MB_OK ? buf_addstr(out, cell) : rc;
	for (p = cell; rc == MB_OK && *p; p++) {
		rc = buf_addch(out, *p);
		if (rc == MB_OK && *p == '"')
			rc = buf_addch(out, '"');
	}
	return rc == MB_OK ? buf_addch(out, '"') : rc;
}

static enum mb_rc write_out(struct csvwrite *w, struct err *e)
{
	const char *name = w->is_stdout ? "standard output" : w->path;
	size_t len = w->line.len;

	if (w->is_gzip) {
		if (gzwrite(w->file, w->line.data, (unsigned)len) ==
		    (int)len)
			return MB_OK;
		return err_set(e, MB_EIO, "cannot write '%s': %s", name,
			       gzerror(w->file, NULL));
	}
	if (fwrite(w->line.data, 1, len, w->file) == len)
		return MB_OK;
	return err_set(e, MB_EIO, "cannot write '%s': %s", name,
		       strerror(errno));
}

enum mb_rc csvwrite_row(struct csvwrite *w, const char *const *cells, size_t n,
			struct err *e)
{
	enum mb_rc rc = MB_OK;
	size_t i;

	if (!w->file)
		return err_set(e, MB_EINTERNAL, "csvwrite_row on a closed "
			       "file");
	buf_reset(&w->line);
	for (i = 0; rc == MB_OK && i < n; i++) {
		if (i)
			rc = buf_addch(&w->line, ',');
		if (rc == MB_OK)
			rc = csvwrite_cell(&w->line, cells[i]);
	}
	if (rc == MB_OK)
		rc = buf_addstr(&w->line, LINE_END);
	if (rc != MB_OK)
		return err_set(e, rc, "cannot write '%s': a row is longer "
			       "than %zu bytes", w->path, w->line.max);
	return write_out(w, e);
}

/* Remember the first failure's errno; later calls may change errno. */
static void note(int *first_errno, int failed)
{
	if (failed && !*first_errno)
		*first_errno = errno ? errno : EIO;
}

/* Push everything to the disk; the rename must not expose a short file. */
static enum mb_rc finish_file(struct csvwrite *w, struct err *e)
{
	int first_errno = 0;

	errno = 0;
	if (w->is_gzip)
		note(&first_errno, gzflush(w->file, Z_FINISH) != Z_OK);
	else
		note(&first_errno, fflush(w->file) != 0);
	note(&first_errno, fsync(w->fd) != 0 && errno != EINVAL);
	if (w->is_gzip)
		note(&first_errno, gzclose_w(w->file) != Z_OK);
	else
		note(&first_errno, fclose(w->file) != 0);
	w->file = NULL;
	w->fd = -1;
	if (first_errno)
		return err_set(e, MB_EIO, "cannot write '%s': %s", w->path,
			       strerror(first_errno));
	if (rename(w->tmp_path, w->path) != 0)
		return err_set(e, MB_EIO, "cannot rename '%s' to '%s': %s",
			       w->tmp_path, w->path, strerror(errno));
	free(w->tmp_path);
	w->tmp_path = NULL;
	return MB_OK;
}

enum mb_rc csvwrite_close(struct csvwrite *w, struct err *e)
{
	enum mb_rc rc = MB_OK;

	if (w->is_stdout) {
		if (fflush(stdout) != 0 || ferror(stdout))
			rc = err_set(e, MB_EIO, "cannot write to standard "
				     "output: %s", strerror(errno ? errno
								  : EIO));
		w->file = NULL;
	} else if (w->file) {
		rc = finish_file(w, e);
	}
	csvwrite_abort(w);
	return rc;
}

void csvwrite_abort(struct csvwrite *w)
{
	if (!w)
		return;
	if (w->file && !w->is_stdout) {
		if (w->is_gzip)
			gzclose_w(w->file);
		else
			fclose(w->file);
	}
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->tmp_path);
	free(w->path);
	buf_release(&w->line);
	w->path = NULL;
	w->tmp_path = NULL;
	w->file = NULL;
	w->fd = -1;
	w->is_gzip = 0;
	w->is_stdout = 0;
}
