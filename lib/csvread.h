/*
 * csvread: turn a source's bytes into rows of fields with libcsv.
 *
 * RFC 4180: quoted fields, "" escapes, delimiters and newlines inside quotes;
 * CRLF, LF and lone CR line ends; blank lines skipped; fields are delivered
 * exactly as decoded (no trimming: that is the mapping's job).  The delimiter
 * is given or detected from the header line among , ; TAB | (the candidate
 * seen most often outside quotes on the first line; ',' on a tie or none).
 *
 * Each row carries the 1-based physical line where it starts, counted by
 * this module (libcsv does not count), so newlines inside quoted fields and
 * blank lines are accounted for.  The header row is delivered like any other
 * row (normally line 1); the caller decides what it is.
 *
 * A row that cannot be parsed as a whole is still delivered, with row->error
 * set and no fields: a field longer than opts->max_field bytes, more than
 * opts->max_fields fields, or an unterminated quote at end of input.  Only
 * I/O errors from the source stop the run.
 */
#ifndef MB_CSVREAD_H
#define MB_CSVREAD_H

#include <stddef.h>

#include "err.h"
#include "source.h"

struct csv_field {
	const char *data;        /* NUL-terminated (may contain NUL bytes too) */
	size_t len;
};

struct csv_row {
	const struct csv_field *fields;  /* borrowed until the callback returns */
	size_t nfields;
	unsigned long line;      /* physical line where the row starts, 1-based */
	const char *error;       /* NULL, or why the row could not be parsed */
};

struct csvread_opts {
	char delimiter;          /* 0: detect from the header line */
	size_t max_field;        /* bytes; 0: default 1 MiB */
	size_t max_fields;       /* 0: default 10,000 */
};

#define CSVREAD_OPTS_INIT { 0, 0, 0 }

/*
 * Called once per row, in order.  Returning anything but MB_OK stops the run
 * and csvread_run returns that code (the callback fills e).
 */
typedef enum mb_rc (*csvread_row_fn)(void *ctx, const struct csv_row *row,
				     struct err *e);

/*
 * Read src to its end (or to the first source error), calling fn for every
 * row.  *delimiter_out (may be NULL) receives the delimiter used.  On a
 * source error the rows before it have been delivered and the error is
 * returned with the line number of the last complete row in the message.
 */
enum mb_rc csvread_run(struct source *src, const struct csvread_opts *opts,
		       csvread_row_fn fn, void *ctx, char *delimiter_out,
		       struct err *e);

/* Detect the delimiter from the first line of p[0..n) (see above). */
char csvread_detect_delimiter(const char *p, size_t n);

/*
 * Split one short string as a single CSV record (used for tag cells such as
 * Mailchimp's "A","B").  Calls fn(ctx, field, len) for each field.
 */
enum mb_rc csvread_split(const char *p, size_t n, char delimiter,
			 void (*fn)(void *ctx, const char *field, size_t len),
			 void *ctx, struct err *e);

#endif
