/*
 * csvwrite: write an exported CSV file (SPEC.md, "Exported CSV files").
 *
 * UTF-8, comma-separated, RFC 4180 quoting (a cell is quoted when it holds a
 * comma, quote, CR or LF; quotes are doubled), lines ending in CR LF, gzip
 * when the path ends in ".gz", "-" for stdout.  A cell that begins with =,
 * +, -, @ (or their full-width forms U+FF1D, U+FF0B, U+FF0D, U+FF20), TAB
 * or CR is written with a leading ' so that a spreadsheet does not run it
 * as a formula (inside the quotes when it is quoted: "'=1,2").  The file
 * is created with mode 0600 whatever the umask (it holds personal data),
 * written to a temporary name beside it and renamed into place on
 * csvwrite_close, so a failed export never leaves a half file under the
 * final name.
 *
 * A path that names an existing character device or FIFO (/dev/null, a
 * terminal, a named pipe) is written in place: no temporary file, no
 * rename, no chmod; a write error there (ENOSPC from /dev/full) is an
 * error like any other.  When "-" or the device is a terminal, control
 * characters in cells (ESC, BEL, CR, DEL and C1 controls) are shown
 * escaped as \xNN, so that input data cannot drive the terminal; files and
 * pipes get the cells as they are.
 */
#ifndef MB_CSVWRITE_H
#define MB_CSVWRITE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct csvwrite {
	char *path;
	char *tmp_path;
	void *file;              /* FILE * or gzFile */
	int is_gzip;
	int is_stdout;
	struct buf line;
	int fd;                  /* the temporary file's descriptor, or -1 */
	int is_direct;           /* a device or FIFO, written in place */
	int escape_controls;     /* a terminal: control bytes shown escaped */
};

#define CSVWRITE_INIT { NULL, NULL, NULL, 0, 0, BUF_INIT, -1, 0, 0 }

/*
 * Errors: MB_EIO naming the path (cannot create, cannot write, cannot
 * rename, a directory or another special file), MB_EUSAGE for an empty
 * path, MB_ETOOBIG for a row over 16 MiB.  On failure of open or close
 * the temporary file is gone and w is released.
 */
enum mb_rc csvwrite_open(struct csvwrite *w, const char *path, struct err *e);

/* Write one row; a NULL cell is written empty. */
enum mb_rc csvwrite_row(struct csvwrite *w, const char *const *cells, size_t n,
			struct err *e);

/* Flush, close and rename into place.  Frees everything. */
enum mb_rc csvwrite_close(struct csvwrite *w, struct err *e);

/* Give up: remove the temporary file and free everything (NULL-safe). */
void csvwrite_abort(struct csvwrite *w);

/* Append cell to out as it would appear in the file (quoting, neutralising). */
enum mb_rc csvwrite_cell(struct buf *out, const char *cell);

#endif
