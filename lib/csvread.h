/*
 * csvread: turn a source's bytes into rows of fields with libcsv.
 *
 * RFC 4180: quoted fields, "" escapes, delimiters and newlines inside quotes;
 * CRLF, LF and lone CR line ends; blank lines (empty, or only spaces and
 * tabs) skipped.  Fields are delivered as libcsv decodes them, which is
 * lenient where real exports are sloppy: spaces and tabs around an unquoted
 * field or around a quoted one are dropped (so ` "a" ,b ` gives a and b;
 * spaces inside quotes are kept); a quote inside an unquoted field is kept
 * as a character (5'10" stays 5'10"); a quote followed by more text inside
 * a quoted field is kept too.  Other trimming is the mapping's job.  A line
 * of only delimiters is a row of empty fields.  The delimiter is given or
 * detected from the header line (the first non-blank one) among , ; TAB |
 * (the candidate seen most often outside quotes; ',' on a tie or none).
 *
 * Each row carries the 1-based physical line where it starts, counted by
 * this module (libcsv does not count), so newlines inside quoted fields and
 * blank lines are accounted for.  The header row is delivered like any other
 * row (normally line 1); the caller decides what it is.
 *
 * A row that cannot be parsed as a whole is still delivered, with row->error
 * set and no fields: a field longer than opts->max_field bytes ("field
 * longer than 1048576 bytes"), more than opts->max_fields fields ("more than
 * 10000 fields"), a row longer than 16 * max_field bytes in all, or an
 * unterminated quote at end of input ("unterminated quoted field", with the
 * line where that row started).  Reading goes on with the next row; memory
 * stays bounded by those caps.  Only source errors (and the callback) stop
 * the run.
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
 * source error the rows before it have been delivered (a row cut by the
 * damage is not) and the source's error is returned with "; rows up to line
 * N were read" (N: the line where the last complete row ended) or "; no
 * complete row before it" appended.  Note that gzip detects damaged data by
 * its checksum at the end of a member: rows decoded from damaged data before
 * that point may be garbage, which validation rejects.  Input that ends
 * inside a quoted field is damage too: MB_EDATA, "'PATH' ends inside a
 * quoted field that begins on line N ...", the cut row not delivered.
 */
enum mb_rc csvread_run(struct source *src, const struct csvread_opts *opts,
		       csvread_row_fn fn, void *ctx, char *delimiter_out,
		       struct err *e);

/* Detect the delimiter from the first line of p[0..n) (see above). */
char csvread_detect_delimiter(const char *p, size_t n);

/*
 * Split one short string as a single CSV record (used for tag cells such as
 * Mailchimp's "A","B").  Calls fn(ctx, field, len) for each field, in order;
 * field is NUL-terminated and borrowed for the call.  An empty string (or
 * only spaces) gives no field; line ends outside quotes separate fields like
 * the delimiter does.  Same lenient rules as above.
 */
enum mb_rc csvread_split(const char *p, size_t n, char delimiter,
			 void (*fn)(void *ctx, const char *field, size_t len),
			 void *ctx, struct err *e);

#endif
