/*
 * report: one self-contained HTML page that shows where an import stands
 * (the `report` command).
 *
 * The page needs nothing else: inline CSS and inline SVG charts, no
 * script, no font, no image, and a Content-Security-Policy of
 * default-src 'none' so that a browser fetches nothing even if a value
 * slipped through.  It is about the latest generation, like status, and
 * carries the same counts (status.h), each also in a data-count
 * attribute named after its status --json member; then progress and
 * time, what went wrong (with at most REPORT_EXAMPLES_MAX examples per
 * section, or none), the inputs and the runs.  Every value from the
 * staging file is escaped for HTML text and attributes.
 *
 *   struct report_opts ro = REPORT_OPTS_INIT;
 *   rc = report_write(db, "report.html", &ro, &e);
 *
 * The staging file is read through the store only (store_report.h,
 * store_pages.h); the db is borrowed.  The file is written like the
 * exports: refused when it is the staging file (export_check_output),
 * mode 0600 (examples are personal data), to a temporary name renamed
 * into place; "-" is standard output, a device or FIFO is written in
 * place.
 */
#ifndef MB_REPORT_H
#define MB_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "err.h"

#define REPORT_EXAMPLES_MAX 10

struct report_opts {
	int no_examples;         /* 1: no address, cell or line shown */
	int64_t now_ms;          /* the time of the report; 0: now */
	const char *version;     /* shown in the footer; NULL: none */
};

#define REPORT_OPTS_INIT { 0, 0, NULL }

/*
 * Build the page into out (replacing it) and write it to path.  Errors:
 * the store's (MB_EDB, MB_ELOCKED), MB_EUSAGE for a path that is the
 * staging file, MB_EIO naming path.  Nothing is left under path on error.
 */
enum mb_rc report_write(struct db *db, const char *path,
			const struct report_opts *o, struct err *e);

/* The page as report_write writes it, into out (replacing it). */
enum mb_rc report_html(struct db *db, const struct report_opts *o,
		       struct buf *out, struct err *e);

/*
 * Append s escaped for HTML text and quoted attributes (& < > " ' as
 * character references), cut after max bytes (at a UTF-8 character
 * boundary, with an ellipsis); max 0: no cut.  NULL appends nothing.
 * Only MB_ETOOBIG (out's cap).
 */
enum mb_rc report_escape(struct buf *out, const char *s, size_t max);

/* Append n with thousands separators ("1,234,567"). */
enum mb_rc report_number(struct buf *out, int64_t n);

/*
 * One bar of a horizontal bar chart: label (escaped), key (the data-count
 * name, a plain identifier, or NULL), value, indent level (0, 1, 2) and
 * tone (a CSS class suffix: "total", "good", "bad", "wait", "skip").
 */
struct report_bar {
	const char *label;
	const char *key;
	int64_t value;
	int level;
	const char *tone;
};

/*
 * Append an SVG bar chart of bars, each bar's width in proportion to
 * value / scale (scale <= 0: the largest value), a bar of a positive
 * value at least 2 px wide, the number written beside it.
 */
enum mb_rc report_bars_svg(struct buf *out, const struct report_bar *bars,
			   size_t n, int64_t scale);

/*
 * Append an SVG column chart of counts[0 .. n) (the time buckets of the
 * throughput chart), x_from and x_to labelling its ends (escaped) and
 * unit naming what a column counts.
 */
enum mb_rc report_columns_svg(struct buf *out, const int64_t *counts,
			      size_t n, const char *x_from,
			      const char *x_to, const char *unit);

#endif
