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

#define TMP_NAME ".meisa-bulk-XXXXXX"

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/*
 * The temporary file: a short name in the target's directory, so that a
 * target name up to NAME_MAX still leaves room (a suffix would not) and the
 * rename stays on one file system.
 */
static enum mb_rc create_tmp(struct csvwrite *w, int *fd_out, struct err *e)
{
	const char *slash = strrchr(w->path, '/');
	int dir_len = slash ? (int)(slash - w->path + 1) : 0;
	int fd;

	w->tmp_path = xmalloc((size_t)dir_len + sizeof(TMP_NAME));
	sprintf(w->tmp_path, "%.*s" TMP_NAME, dir_len, w->path);
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

/*
 * A character device or a FIFO (/dev/null, /dev/tty, a pipe) is written
 * where it is: a temporary file renamed over it would replace the device
 * node, and its mode is not ours to change.  Other special files (block
 * devices, sockets, directories) are refused.  *direct is 0 for a regular
 * file or a name that does not exist yet.
 */
static enum mb_rc check_target(const char *path, int *direct,
			       struct err *e)
{
	struct stat st;

	*direct = 0;
	if (stat(path, &st) != 0)
		return MB_OK;   /* created below; its error names the cause */
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
		*direct = 1;
	else if (S_ISREG(st.st_mode) && (!strncmp(path, "/dev/", 5) ||
		 !strncmp(path, "/proc/", 6)))
		*direct = 1;    /* /dev/stdout to a file: the rename would
				   replace the link in /dev */
	else if (S_ISDIR(st.st_mode))
		return err_set(e, MB_EIO, "cannot write '%s': it is a"
			       " directory", path);
	else if (!S_ISREG(st.st_mode))
		return err_set(e, MB_EIO, "cannot write '%s': not a regular"
			       " file, a character device or a FIFO", path);
	return MB_OK;
}

static enum mb_rc open_direct(struct csvwrite *w, int *fd_out,
			      struct err *e)
{
	/*
	 * No O_CREAT, no O_TRUNC: the node exists and is not ours.  O_APPEND
	 * for /dev/stdout onto a file, so that `>>` appends and `>` (empty)
	 * starts at 0 as for any other writer.
	 */
	int fd = open(w->path, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_APPEND);

	if (fd < 0)
		return err_set(e, MB_EIO, "cannot open '%s' for writing: %s",
			       w->path, strerror(errno));
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
			       w->tmp_path ? w->tmp_path : w->path,
			       strerror(errno ? errno : ENOMEM));
	}
	return MB_OK;
}

enum mb_rc csvwrite_open(struct csvwrite *w, const char *path, struct err *e)
{
	enum mb_rc rc;
	int fd = -1, direct = 0;

	buf_init(&w->line, LINE_MAX_BYTES);
	w->path = xstrdup(path);
	w->tmp_path = NULL;
	w->file = NULL;
	w->fd = -1;
	w->is_stdout = !strcmp(path, "-");
	w->is_gzip = !w->is_stdout && ends_with(path, ".gz");
	w->is_direct = 0;
	w->escape_controls = 0;
	if (w->is_stdout) {
		w->file = stdout;
		w->escape_controls = isatty(STDOUT_FILENO);
		return MB_OK;
	}
	rc = *path ? check_target(path, &direct, e) :
		err_set(e, MB_EUSAGE, "an empty output file name");
	if (rc == MB_OK && direct)
		rc = open_direct(w, &fd, e);
	else if (rc == MB_OK)
		rc = create_tmp(w, &fd, e);
	if (rc == MB_OK) {
		w->fd = fd;
		w->is_direct = direct;
		w->escape_controls = direct && isatty(fd);
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

/*
 * SPEC.md: =, +, -, @, TAB or CR first would make a spreadsheet formula;
 * so would their full-width forms U+FF1D, U+FF0B, U+FF0D and U+FF20, which
 * spreadsheets (Excel, LibreOffice) read as the ASCII ones.
 */
static int needs_neutralising(const char *cell)
{
	const unsigned char *u = (const unsigned char *)cell;

	if (u[0] == 0xef && u[1] == 0xbc)
		return u[2] == 0x9d || u[2] == 0x8b || u[2] == 0x8d ||
		       u[2] == 0xa0;
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

static int is_control(const unsigned char *p)
{
	/* C1 controls are U+0080..U+009F: 0xc2 0x80..0x9f in UTF-8. */
	return (*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f ||
	       (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
}

/*
 * For a terminal: the row with each control byte written as \xNN, so that
 * an ESC sequence in the data is shown, not obeyed.
 */
static enum mb_rc escape_controls(struct buf *line)
{
	struct buf out = BUF_INIT;
	const unsigned char *p = (const unsigned char *)line->data;
	const unsigned char *end = p + line->len;
	enum mb_rc rc = MB_OK;
	char hex[16];
	int n;

	buf_init(&out, line->max * 4);
	for (; rc == MB_OK && p < end; p++) {
		if (!is_control(p)) {
			rc = buf_addch(&out, (char)*p);
			continue;
		}
		n = *p == 0xc2 ? 2 : 1;
		snprintf(hex, sizeof(hex), n == 2 ? "\\x%02x\\x%02x" :
			 "\\x%02x", p[0], p[n - 1]);
		rc = buf_addstr(&out, hex);
		p += n - 1;
	}
	if (rc == MB_OK)
		rc = buf_set(line, buf_str(&out), out.len);
	buf_release(&out);
	return rc;
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
	if (rc == MB_OK && w->escape_controls)
		rc = escape_controls(&w->line);
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
	if (w->is_direct)
		return MB_OK;
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
	w->is_direct = 0;
	w->escape_controls = 0;
}
