/*
 * report: the HTML page, section by section.  Each section appends to one
 * buffer through a sticky result (struct page: after the first error every
 * append is a no-op, the error is returned at the end), so a section reads
 * as the page it writes.  The page is built in memory (a million-contact
 * report is some 30 KB; the cap is REPORT_MAX) and then written at once.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "ratelimit.h"
#include "status.h"
#include "store_pages.h"
#include "xalloc.h"

#define REPORT_MAX ((size_t)16 << 20)
/* Examples show a cell up to this many bytes. */
#define CELL_MAX 160
/* The inputs and runs listed, newest first. */
#define LIST_MAX 100
/* Columns of the throughput chart, at most. */
#define BUCKETS_MAX 48
#define DEFAULT_RATE "60/m,1000/h"

struct page {
	struct buf *out;
	enum mb_rc rc;
	struct db *db;
	struct err *e;           /* filled by the store's reads */
	const struct report_opts *o;
	struct status_counts c;
	int64_t now_ms;
	char rate[64];           /* the --rate of the latest push */
};

/* ---- appending ------------------------------------------------------- */

static void put(struct page *p, const char *s)
{
	if (p->rc == MB_OK)
		p->rc = buf_addstr(p->out, s);
}

static void putf(struct page *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void putf(struct page *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	put(p, line);
}

static void esc(struct page *p, const char *s, size_t max)
{
	if (p->rc == MB_OK)
		p->rc = report_escape(p->out, s, max);
}

static void num(struct page *p, int64_t n)
{
	if (p->rc == MB_OK)
		p->rc = report_number(p->out, n);
}

/* A number the test and a reader can find: <b data-count=key>n</b>. */
static void count(struct page *p, const char *key, int64_t n)
{
	putf(p, "<b data-count=\"%s\">", key);
	num(p, n);
	put(p, "</b>");
}

enum mb_rc report_escape(struct buf *out, const char *s, size_t max)
{
	size_t i, n, run = 0;
	enum mb_rc rc = MB_OK;

	if (!s)
		return MB_OK;
	n = strlen(s);
	if (max && n > max) {
		n = max;
		/* Back to a character's first byte. */
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; rc == MB_OK && i < n; i++) {
		const char *ref = NULL;

		switch (s[i]) {
		case '&': ref = "&amp;"; break;
		case '<': ref = "&lt;"; break;
		case '>': ref = "&gt;"; break;
		case '"': ref = "&quot;"; break;
		case '\'': ref = "&#39;"; break;
		}
		if (!ref)
			continue;
		rc = buf_add(out, s + run, i - run);
		if (rc == MB_OK)
			rc = buf_addstr(out, ref);
		run = i + 1;
	}
	if (rc == MB_OK)
		rc = buf_add(out, s + run, n - run);
	if (rc == MB_OK && n < strlen(s))
		rc = buf_addstr(out, "\xe2\x80\xa6");
	return rc;
}

enum mb_rc report_number(struct buf *out, int64_t n)
{
	char digits[32], grouped[48];
	size_t len, i, j = 0;
	int neg = n < 0;

	snprintf(digits, sizeof(digits), "%llu", neg ?
		 0ULL - (unsigned long long)n : (unsigned long long)n);
	len = strlen(digits);
	if (neg)
		grouped[j++] = '-';
	for (i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			grouped[j++] = ',';
		grouped[j++] = digits[i];
	}
	grouped[j] = '\0';
	return buf_addstr(out, grouped);
}

/* ---- charts ---------------------------------------------------------- */

#define BAR_LABEL_W 260
#define BAR_W 520
#define BAR_ROW_H 30

static int64_t largest(const struct report_bar *bars, size_t n)
{
	int64_t max = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (bars[i].value > max)
			max = bars[i].value;
	return max;
}

static enum mb_rc bar_svg(struct buf *out, const struct report_bar *b,
			  size_t row, int64_t scale)
{
	int64_t w = scale > 0 ? b->value * BAR_W / scale : 0;
	int y = (int)row * BAR_ROW_H, x = BAR_LABEL_W;
	enum mb_rc rc;

	if (b->value > 0 && w < 2)
		w = 2;
	if (w > BAR_W)
		w = BAR_W;
	rc = buf_printf(out, "<text class=\"lbl l%d\" x=\"%d\" y=\"%d\">",
			b->level, 8 + 18 * b->level, y + 20);
	if (rc == MB_OK)
		rc = report_escape(out, b->label, 0);
	if (rc == MB_OK)
		rc = buf_printf(out, "</text><rect class=\"bar %s\" x=\"%d\""
				" y=\"%d\" width=\"%lld\" height=\"%d\""
				" rx=\"3\"/><text class=\"val\" x=\"%lld\""
				" y=\"%d\"", b->tone ? b->tone : "total", x,
				y + 5, (long long)w, BAR_ROW_H - 10,
				(long long)(x + w + 8), y + 20);
	if (rc == MB_OK && b->key)
		rc = buf_printf(out, " data-count=\"%s\"", b->key);
	if (rc == MB_OK)
		rc = buf_addch(out, '>');
	if (rc == MB_OK)
		rc = report_number(out, b->value);
	if (rc == MB_OK)
		rc = buf_addstr(out, "</text>");
	return rc;
}

enum mb_rc report_bars_svg(struct buf *out, const struct report_bar *bars,
			   size_t n, int64_t scale)
{
	enum mb_rc rc;
	size_t i;

	if (scale <= 0)
		scale = largest(bars, n);
	rc = buf_printf(out, "<svg class=\"chart\" role=\"img\" viewBox=\"0 0"
			" %d %zu\" width=\"100%%\" preserveAspectRatio=\"xMinYMin"
			" meet\">", BAR_LABEL_W + BAR_W + 110, n * BAR_ROW_H);
	for (i = 0; rc == MB_OK && i < n; i++)
		rc = bar_svg(out, &bars[i], i, scale);
	if (rc == MB_OK)
		rc = buf_addstr(out, "</svg>");
	return rc;
}

#define COL_X 70         /* room for the busiest column's number */
#define COL_W 850
#define COL_H 160

/* A column's width: a few columns stay columns, not walls. */
static double col_width(size_t n)
{
	double w = (double)COL_W / (double)n;

	return w > 40 ? 40 : w;
}

static enum mb_rc column_svg(struct buf *out, int64_t v, size_t i,
			     size_t n, int64_t max)
{
	double w = col_width(n);
	int64_t h = max > 0 ? v * COL_H / max : 0;

	if (v > 0 && h < 2)
		h = 2;
	return buf_printf(out, "<rect class=\"col\" x=\"%.1f\" y=\"%lld\""
			  " width=\"%.1f\" height=\"%lld\"><title>%lld"
			  "</title></rect>", COL_X + w * (double)i + 1,
			  (long long)(10 + COL_H - h), w > 3 ? w - 2 : w,
			  (long long)h, (long long)v);
}

/* Where the chart's end label ends: its last column, clear of the start. */
static double to_x(size_t n)
{
	double x = COL_X + col_width(n) * (double)n;

	return x < COL_X + 360 ? COL_X + 360 : x;
}

enum mb_rc report_columns_svg(struct buf *out, const int64_t *counts,
			      size_t n, const char *x_from,
			      const char *x_to, const char *unit)
{
	int64_t max = 0;
	enum mb_rc rc;
	size_t i;

	for (i = 0; i < n; i++)
		if (counts[i] > max)
			max = counts[i];
	rc = buf_printf(out, "<svg class=\"chart\" role=\"img\" viewBox=\"0 0"
			" %d %d\" width=\"100%%\"><line class=\"axis\" x1=\"%d\""
			" y1=\"%d\" x2=\"%d\" y2=\"%d\"/><text class=\"tick\""
			" x=\"%d\" y=\"20\" text-anchor=\"end\"",
			COL_X + COL_W + 10, COL_H + 58, COL_X, COL_H + 10,
			COL_X + COL_W, COL_H + 10, COL_X - 6);
	if (rc == MB_OK)
		rc = buf_printf(out, " data-max=\"%lld\">", (long long)max);
	if (rc == MB_OK)
		rc = report_number(out, max);
	if (rc == MB_OK)
		rc = buf_addstr(out, "</text>");
	for (i = 0; rc == MB_OK && i < n; i++)
		rc = column_svg(out, counts[i], i, n, max);
	if (rc == MB_OK)
		rc = buf_printf(out, "<text class=\"tick\" x=\"%d\" y=\"%d\">",
				COL_X, COL_H + 30);
	if (rc == MB_OK)
		rc = report_escape(out, x_from, 0);
	if (rc == MB_OK)
		rc = buf_printf(out, "</text><text class=\"tick\" x=\"%.0f\""
				" y=\"%d\" text-anchor=\"end\">",
				to_x(n), COL_H + 30);
	if (rc == MB_OK)
		rc = report_escape(out, x_to, 0);
	if (rc == MB_OK)
		rc = buf_printf(out, "</text><text class=\"tick\" x=\"%d\""
				" y=\"%d\" text-anchor=\"middle\">",
				COL_X + COL_W / 2, COL_H + 50);
	if (rc == MB_OK)
		rc = report_escape(out, unit, 0);
	if (rc == MB_OK)
		rc = buf_addstr(out, "</text></svg>");
	return rc;
}

/* ---- time ------------------------------------------------------------ */

static int64_t digits(const char *s, int n)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * "YYYY-MM-DDTHH:MM:SS[.mmm]Z" (db_now_iso) as milliseconds since the
 * epoch, or -1 for anything else.  By hand: strptime and timegm cost more
 * than the query on a million acknowledgement times.
 */
static int64_t iso_ms(const char *s)
{
	int64_t y, mo, d, h, mi, sec, ms = 0;

	if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (s[19] == '.' && digits(s + 20, 3) >= 0)
		ms = digits(s + 20, 3);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || mi < 0 || sec < 0)
		return -1;
	return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 +
	       sec * 1000 + ms;
}

/* ms since the epoch as "YYYY-MM-DD HH:MM UTC". */
static void ms_text(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm);
}

/* An ISO time from the staging file, shown as "YYYY-MM-DD HH:MM:SS". */
static void when(struct page *p, const char *iso)
{
	char shown[20];

	if (!iso || strlen(iso) < 19) {
		esc(p, iso ? iso : "\xe2\x80\x94", 0);
		return;
	}
	memcpy(shown, iso, 19);
	shown[10] = ' ';
	shown[19] = '\0';
	esc(p, shown, 0);
}

/* A duration in seconds, as "2 d 4 h", "3 h 05 min", "4 min 12 s". */
static void duration(struct page *p, int64_t s)
{
	if (s < 0)
		put(p, "\xe2\x80\x94");
	else if (s >= 86400)
		putf(p, "%lld d %lld h", (long long)(s / 86400),
		     (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		putf(p, "%lld h %02lld min", (long long)(s / 3600),
		     (long long)(s % 3600 / 60));
	else if (s >= 60)
		putf(p, "%lld min %02lld s", (long long)(s / 60),
		     (long long)(s % 60));
	else
		putf(p, "%lld s", (long long)s);
}

/* ---- the page -------------------------------------------------------- */

static const char style[] =
	":root{--ink:#1d2433;--muted:#5b6478;--line:#e3e7ef;--bg:#f5f7fb;"
	"--good:#1f9d6b;--bad:#d64545;--wait:#e0a526;--skip:#8a94a8;"
	"--total:#3b6fd8}"
	"*{box-sizing:border-box}"
	"body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5"
	" system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,"
	"sans-serif}"
	"main{max-width:980px;margin:0 auto;padding:28px 20px 40px}"
	"header{margin-bottom:18px}"
	"h1{font-size:26px;margin:0 0 4px}"
	"h2{font-size:18px;margin:0 0 12px}"
	"h3{font-size:15px;margin:18px 0 6px}"
	".sub{color:var(--muted);font-size:13px}"
	".pill{display:inline-block;padding:3px 12px;border-radius:99px;"
	"font-weight:600;font-size:13px;color:#fff;margin-top:8px}"
	".pill.good{background:var(--good)}.pill.bad{background:var(--bad)}"
	".pill.wait{background:var(--wait)}.pill.skip{background:var(--skip)}"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,"
	"minmax(140px,1fr));gap:12px;margin:18px 0}"
	".card{background:#fff;border:1px solid var(--line);border-radius:10px;"
	"padding:12px 14px}"
	".card b{display:block;font-size:22px}"
	".card span{color:var(--muted);font-size:13px}"
	"section{background:#fff;border:1px solid var(--line);"
	"border-radius:12px;padding:20px 22px;margin:16px 0}"
	".chart{display:block;max-width:100%;height:auto}"
	".chart .lbl{font-size:14px;fill:var(--ink)}"
	".chart .l0{font-weight:600}"
	".chart .val{font-size:14px;font-weight:600;fill:var(--ink)}"
	".chart .tick{font-size:12px;fill:var(--muted)}"
	".chart .axis{stroke:var(--line);stroke-width:1}"
	".bar.total{fill:var(--total)}.bar.good{fill:var(--good)}"
	".bar.bad{fill:var(--bad)}.bar.wait{fill:var(--wait)}"
	".bar.skip{fill:var(--skip)}.col{fill:var(--total)}"
	".progress{height:14px;background:var(--line);border-radius:7px;"
	"overflow:hidden;margin:8px 0 14px}"
	".progress div{height:100%;background:var(--good)}"
	"table{border-collapse:collapse;width:100%;font-size:13px;"
	"margin:6px 0 10px}"
	"th,td{text-align:left;padding:6px 8px;border-bottom:1px solid"
	" var(--line);vertical-align:top}"
	"th{color:var(--muted);font-weight:600}"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
	"code{font:12px ui-monospace,Menlo,Consolas,monospace;"
	"background:var(--bg);padding:1px 5px;border-radius:4px;"
	"word-break:break-all}"
	".hint{color:var(--muted);font-size:13px}"
	".ok{color:var(--good);font-weight:600}"
	".no{color:var(--bad);font-weight:600}"
	"footer{color:var(--muted);font-size:12px;text-align:center}"
	"@media print{body{background:#fff;font-size:12px}"
	"main{max-width:none;padding:0}"
	"section,.card{border-color:#bbb;break-inside:avoid}"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

/* The staging file's name without its directory. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void head(struct page *p)
{
	put(p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta"
	    " charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\""
	    " content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width,"
	    "initial-scale=1\">\n<meta name=\"generator\""
	    " content=\"meisa-bulk report\">\n<title>Import report: ");
	esc(p, base_name(p->db->path), 0);
	put(p, "</title>\n<style>");
	put(p, style);
	put(p, "</style></head>\n<body><main>\n");
}

/* Percent of the contacts no longer waiting to be sent, in tenths. */
static int64_t done_permille(const struct status_counts *c)
{
	if (c->contacts <= 0)
		return 0;
	return (c->contacts - c->pending) * 1000 / c->contacts;
}

static void headline(struct page *p)
{
	const struct status_counts *c = &p->c;

	if (c->generation == 0)
		put(p, "<span class=\"pill skip\">Nothing staged yet</span>");
	else if (c->pending > 0)
		putf(p, "<span class=\"pill wait\">In progress: %lld.%lld%%"
		     " done</span>", (long long)(done_permille(c) / 10),
		     (long long)(done_permille(c) % 10));
	else if (c->failed > 0)
		put(p, "<span class=\"pill bad\">Finished, with failed"
		    " contacts</span>");
	else
		put(p, "<span class=\"pill good\">Complete</span>");
}

static void header(struct page *p)
{
	char now[40];

	ms_text(p->now_ms, now, sizeof(now));
	put(p, "<header><h1>Import report</h1><div class=\"sub\">Staging"
	    " file <code>");
	esc(p, p->db->path, 0);
	putf(p, "</code> &middot; generation <b data-count=\"generation\">"
	     "%lld</b> &middot; written %s</div>",
	     (long long)p->c.generation, now);
	headline(p);
	put(p, "</header>\n");
}

static void card(struct page *p, const char *key, int64_t n,
		 const char *what)
{
	put(p, "<div class=\"card\">");
	count(p, key, n);
	putf(p, "<span>%s</span></div>", what);
}

static void cards(struct page *p)
{
	const struct status_counts *c = &p->c;

	put(p, "<div class=\"cards\">");
	card(p, "contacts", c->contacts, "contacts");
	card(p, "upserted", c->upserted, "in Meisa (upserted)");
	card(p, "enrolled", c->enrolled, "enrolled");
	card(p, "pending", c->pending, "still to send");
	card(p, "failed", c->failed, "failed");
	card(p, "rejected", c->rejected, "rows rejected");
	put(p, "</div>\n");
}

static void funnel_chart(struct page *p)
{
	const struct status_counts *c = &p->c;
	struct report_bar bars[] = {
		{ "Rows read", "rows_read", c->rows_read, 0, "total" },
		{ "Rejected", "rejected", c->rejected, 1, "bad" },
		{ "Duplicates", "duplicates", c->duplicates, 1, "skip" },
		{ "Contacts", "contacts", c->contacts, 0, "total" },
		{ "Skipped (do not email, unconfirmed)", "skipped",
		  c->skipped, 1, "skip" },
		{ "Upserted", "upserted", c->upserted, 1, "good" },
		{ "new or changed", NULL, c->upserted - c->unchanged, 2,
		  "good" },
		{ "unchanged, not sent", "unchanged", c->unchanged, 2,
		  "good" },
		{ "on Meisa's unsubscribed list", "meisa_unsubscribed",
		  c->meisa_unsubscribed, 2, "skip" },
		{ "Failed", "failed", c->failed, 1, "bad" },
		{ "Pending", "pending", c->pending, 1, "wait" },
		{ "Enrolled", "enrolled", c->enrolled, 0, "good" },
	};
	int64_t scale = c->rows_read > c->contacts ? c->rows_read :
		c->contacts;

	if (p->rc == MB_OK)
		p->rc = report_bars_svg(p->out, bars,
					sizeof(bars) / sizeof(bars[0]), scale);
}

/*
 * Open a cursor of kind on the latest generation; 0 (and the cursor
 * closed) after an error.
 */
static int open_rows(struct page *p, struct store_pages *pg,
		     enum store_pages_kind kind, int64_t limit)
{
	if (p->rc == MB_OK)
		p->rc = store_pages_open(pg, p->db, kind, p->c.generation,
					 limit, p->e);
	if (p->rc == MB_OK)
		return 1;
	store_pages_close(pg);
	return 0;
}

/* The next row; 0 after the last, or after an error. */
static int next_row(struct page *p, struct store_pages *pg,
		    struct store_page_row *row)
{
	if (p->rc == MB_OK)
		p->rc = store_pages_next(pg, row, p->e);
	return p->rc == MB_OK && !row->done;
}

/* A table of (reason, count) rows from a cursor of kind. */
static void reason_rows(struct page *p, enum store_pages_kind kind,
			const char *what)
{
	struct store_pages pg = STORE_PAGES_INIT;
	struct store_page_row row;
	int any = 0;

	if (!open_rows(p, &pg, kind, REPORT_EXAMPLES_MAX))
		return;
	while (next_row(p, &pg, &row)) {
		if (!any++)
			putf(p, "<table><tr><th>%s</th><th class=\"n\">count"
			     "</th></tr>", what);
		put(p, "<tr><td>");
		esc(p, row.cells[0] ? row.cells[0] : "(none)", CELL_MAX);
		put(p, "</td><td class=\"n\">");
		num(p, row.cells[1] ? atoll(row.cells[1]) : 0);
		put(p, "</td></tr>");
	}
	if (any)
		put(p, "</table>");
	store_pages_close(&pg);
}

/* Every member of status --json that is a count, by name. */
static void all_counts(struct page *p)
{
	const struct status_counts *c = &p->c;
	const struct { const char *key; int64_t n; const char *what; } rows[] = {
		{ "rows_read", c->rows_read, "data rows in the files" },
		{ "rejected", c->rejected, "rows refused (export rejects)" },
		{ "duplicates", c->duplicates, "later rows of a contact" },
		{ "contacts", c->contacts, "distinct contacts" },
		{ "suppressed", c->suppressed, "never to be enrolled"
		  " (export suppressed)" },
		{ "skipped", c->skipped, "not upserted: do not email or"
		  " unconfirmed" },
		{ "unconfirmed", c->unconfirmed, "never confirmed their"
		  " subscription" },
		{ "meisa_unsubscribed", c->meisa_unsubscribed, "on Meisa's"
		  " unsubscribed list" },
		{ "upserted", c->upserted, "acknowledged by Meisa" },
		{ "unchanged", c->unchanged, "of which unchanged, not sent"
		  " again" },
		{ "failed", c->failed, "refused by Meisa (export results)" },
		{ "pending", c->pending, "still to send" },
		{ "enrolled", c->enrolled, "enrolled in the sequence" },
		{ "enroll_unknown", c->enroll_unknown, "enrollment answer not"
		  " understood" },
		{ "chunks", c->chunks, "enrollment requests" },
		{ "chunks_acknowledged", c->chunks_acknowledged,
		  "of which acknowledged" },
		{ "missing", c->missing, "in the previous generation only"
		  " (export missing)" },
		{ "cleared_fields_not_sent", c->cleared_fields, "fields emptied"
		  " at the source, still in Meisa" },
		{ "requests", c->requests, "requests sent, every run" },
	};
	size_t i;

	put(p, "<section id=\"counts\"><h2>Every count</h2><table><tr>"
	    "<th>count</th><th class=\"n\">value</th><th>meaning</th></tr>");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		putf(p, "<tr><td><code>%s</code></td><td class=\"n\">",
		     rows[i].key);
		count(p, rows[i].key, rows[i].n);
		putf(p, "</td><td>%s</td></tr>", rows[i].what);
	}
	put(p, "</table><p class=\"hint\">The same numbers as <code>meisa-bulk"
	    " status --json</code>.</p></section>\n");
}

static void funnel(struct page *p)
{
	put(p, "<section id=\"funnel\"><h2>Where the contacts went</h2>");
	funnel_chart(p);
	put(p, "<h3>Skipped, by reason at the source</h3>");
	if (p->c.skipped == 0)
		put(p, "<p class=\"hint\">None.</p>");
	reason_rows(p, STORE_PAGES_SKIPPED, "reason");
	put(p, "</section>\n");
}

/* The --rate of args (a run's command line), or "" when it has none. */
static void rate_of(const char *args, char *out, size_t size)
{
	const char *r = args ? strstr(args, "--rate") : NULL;
	size_t n;

	out[0] = '\0';
	if (!r || (r[6] != ' ' && r[6] != '='))
		return;
	r += 7;
	n = strcspn(r, " ");
	if (n >= size)
		n = size - 1;
	memcpy(out, r, n);
	out[n] = '\0';
}

/* The rate the latest push or import ran at: its --rate, or the default. */
static void find_rate(struct page *p)
{
	struct store_pages pg = STORE_PAGES_INIT;
	struct store_page_row row;

	snprintf(p->rate, sizeof(p->rate), "%s", DEFAULT_RATE);
	if (!open_rows(p, &pg, STORE_PAGES_RUNS, LIST_MAX))
		return;
	while (next_row(p, &pg, &row)) {
		const char *kind = row.cells[1] ? row.cells[1] : "";

		if (strcmp(kind, "push") && strcmp(kind, "import"))
			continue;
		rate_of(row.cells[6], p->rate, sizeof(p->rate));
		if (!p->rate[0])
			snprintf(p->rate, sizeof(p->rate), "%s", DEFAULT_RATE);
		break;
	}
	store_pages_close(&pg);
}

static const char *span_name(int64_t span_ms)
{
	return span_ms == 1000 ? "second" : span_ms == 60000 ? "minute" :
		span_ms == 3600000 ? "hour" : span_ms == 86400000 ? "day" :
		"window";
}

/* Sends within each window of rl, counted back from now. */
static void window_use(struct page *p, const struct ratelimit *rl,
		       int64_t *used)
{
	struct store_pages pg = STORE_PAGES_INIT;
	struct store_page_row row;
	size_t i;

	if (!open_rows(p, &pg, STORE_PAGES_SENDS, 0))
		return;
	while (next_row(p, &pg, &row)) {
		int64_t t = row.cells[0] ? atoll(row.cells[0]) : 0;

		for (i = 0; i < rl->nwindows; i++)
			if (t > p->now_ms - rl->windows[i].span_ms &&
			    t <= p->now_ms)
				used[i]++;
	}
	store_pages_close(&pg);
}

static void windows_table(struct page *p, const struct ratelimit *rl)
{
	int64_t used[RATELIMIT_MAX_WINDOWS] = { 0 };
	size_t i;

	window_use(p, rl, used);
	put(p, "<table><tr><th>window</th><th class=\"n\">limit</th><th"
	    " class=\"n\">used now</th><th class=\"n\">free</th></tr>");
	for (i = 0; i < rl->nwindows; i++) {
		const struct ratelimit_window *w = &rl->windows[i];
		int64_t left = (int64_t)w->limit - used[i];

		putf(p, "<tr><td>per %s</td><td class=\"n\">",
		     span_name(w->span_ms));
		num(p, w->limit);
		put(p, "</td><td class=\"n\">");
		num(p, used[i]);
		put(p, "</td><td class=\"n\">");
		num(p, left > 0 ? left : 0);
		put(p, "</td></tr>");
	}
	put(p, "</table>");
}

/* Seconds to send n requests at the slowest window's steady rate. */
static int64_t eta_seconds(const struct ratelimit *rl, int64_t n)
{
	double per_s = 0;
	size_t i;

	for (i = 0; i < rl->nwindows; i++) {
		double r = (double)rl->windows[i].limit * 1000.0 /
			(double)rl->windows[i].span_ms;

		if (per_s == 0 || r < per_s)
			per_s = r;
	}
	return per_s > 0 ? (int64_t)((double)n / per_s + 0.5) : -1;
}

static void pacing(struct page *p)
{
	struct ratelimit rl = RATELIMIT_INIT;
	struct err ignored = ERR_INIT;

	put(p, "<h3>Pace</h3><p>Rate <code>");
	esc(p, p->rate, 0);
	put(p, "</code> (the latest push's <code>--rate</code>); ");
	count(p, "requests", p->c.requests);
	put(p, " requests sent so far.</p>");
	if (ratelimit_parse(&rl, p->rate, &ignored) != MB_OK ||
	    rl.nwindows == 0) {
		put(p, "<p class=\"hint\">No client-side limit: no estimate"
		    " of the time left.</p>");
		ratelimit_release(&rl);
		return;
	}
	windows_table(p, &rl);
	put(p, "<p>Time left at this rate: <b data-eta=\"");
	putf(p, "%lld\">", (long long)eta_seconds(&rl, p->c.pending));
	if (p->c.pending == 0)
		put(p, "nothing left to send");
	else
		duration(p, eta_seconds(&rl, p->c.pending));
	put(p, "</b> for ");
	num(p, p->c.pending);
	put(p, " pending contacts (one request each; enrollment adds one"
	    " request per chunk).</p>");
	ratelimit_release(&rl);
}

struct times {
	int64_t *ms;
	size_t n, cap;
	int64_t min, max;
};

static void times_add(struct times *t, int64_t ms)
{
	if (ms < 0)
		return;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->ms = xrealloc(t->ms, t->cap * sizeof(*t->ms));
	}
	if (!t->n || ms < t->min)
		t->min = ms;
	if (!t->n || ms > t->max)
		t->max = ms;
	t->ms[t->n++] = ms;
}

/* When Meisa acknowledged each upserted contact, into *t. */
static void load_acked(struct page *p, struct times *t)
{
	struct store_pages pg = STORE_PAGES_INIT;
	struct store_page_row row;

	if (!open_rows(p, &pg, STORE_PAGES_ACKED, 0))
		return;
	while (next_row(p, &pg, &row))
		times_add(t, iso_ms(row.cells[0]));
	store_pages_close(&pg);
}

static const struct { int64_t ms; const char *name; } widths[] = {
	{ 1000, "second" }, { 5000, "5 seconds" }, { 15000, "15 seconds" },
	{ 60000, "minute" }, { 300000, "5 minutes" },
	{ 900000, "15 minutes" }, { 3600000, "hour" },
	{ 10800000, "3 hours" }, { 21600000, "6 hours" },
	{ 43200000, "12 hours" }, { 86400000, "day" }, { 604800000, "week" },
};

#define NWIDTHS (sizeof(widths) / sizeof(widths[0]))

/* The narrowest column width that fits the span in BUCKETS_MAX. */
static size_t pick_width(int64_t span_ms)
{
	size_t i;

	for (i = 0; i + 1 < NWIDTHS; i++)
		if (span_ms / widths[i].ms < BUCKETS_MAX)
			break;
	return i;
}

static void throughput_chart(struct page *p, const struct times *t)
{
	int64_t counts[BUCKETS_MAX] = { 0 }, start, per = 0;
	char from[40], to[40], unit[80];
	size_t w = pick_width(t->max - t->min), i, n;

	start = t->min - t->min % widths[w].ms;
	n = (size_t)((t->max - start) / widths[w].ms) + 1;
	if (n > BUCKETS_MAX)
		n = BUCKETS_MAX;
	for (i = 0; i < t->n; i++) {
		size_t b = (size_t)((t->ms[i] - start) / widths[w].ms);

		counts[b < n ? b : n - 1]++;
	}
	for (i = 0; i < n; i++)
		per = counts[i] > per ? counts[i] : per;
	ms_text(start, from, sizeof(from));
	ms_text(start + (int64_t)n * widths[w].ms, to, sizeof(to));
	snprintf(unit, sizeof(unit), "contacts acknowledged per %s",
		 widths[w].name);
	if (p->rc == MB_OK)
		p->rc = report_columns_svg(p->out, counts, n, from, to, unit);
	put(p, "<p class=\"hint\">Busiest ");
	put(p, widths[w].name);
	put(p, ": ");
	num(p, per);
	put(p, " contacts. Each column counts the contacts whose latest"
	    " upsert Meisa acknowledged in it (hover for the number).</p>");
}

static void throughput(struct page *p)
{
	struct times t = { NULL, 0, 0, 0, 0 };

	put(p, "<h3>Throughput over time</h3>");
	load_acked(p, &t);
	if (t.n)
		throughput_chart(p, &t);
	else
		put(p, "<p class=\"hint\">Nothing acknowledged yet.</p>");
	free(t.ms);
}

static void progress(struct page *p)
{
	int64_t pm = done_permille(&p->c);

	put(p, "<section id=\"progress\"><h2>Progress and time</h2>");
	putf(p, "<p><b data-percent=\"%lld.%lld\">%lld.%lld%%</b> of the"
	     " contacts are done (upserted, failed or skipped); ",
	     (long long)(pm / 10), (long long)(pm % 10),
	     (long long)(pm / 10), (long long)(pm % 10));
	num(p, p->c.pending);
	putf(p, " wait.</p><div class=\"progress\"><div style=\"width:%lld.%lld%%"
	     "\"></div></div>", (long long)(pm / 10), (long long)(pm % 10));
	pacing(p);
	throughput(p);
	put(p, "</section>\n");
}

/* The first rows of kind as a table with columns heads[0 .. n). */
static void examples(struct page *p, enum store_pages_kind kind,
		     const char *const *heads, size_t n)
{
	struct store_pages pg = STORE_PAGES_INIT;
	struct store_page_row row;
	size_t i;

	if (p->o->no_examples) {
		put(p, "<p class=\"hint\">Examples left out"
		    " (--no-examples).</p>");
		return;
	}
	if (!open_rows(p, &pg, kind, REPORT_EXAMPLES_MAX))
		return;
	put(p, "<table class=\"examples\"><tr>");
	for (i = 0; i < n; i++)
		putf(p, "<th>%s</th>", heads[i]);
	put(p, "</tr>");
	while (next_row(p, &pg, &row)) {
		put(p, "<tr>");
		for (i = 0; i < n && i < row.ncells; i++) {
			put(p, "<td>");
			esc(p, row.cells[i], CELL_MAX);
			put(p, "</td>");
		}
		put(p, "</tr>");
	}
	put(p, "</table>");
	store_pages_close(&pg);
}

static void export_hint(struct page *p, const char *what)
{
	putf(p, "<p class=\"hint\">Full list: <code>meisa-bulk export %s -o"
	     " %s.csv</code></p>", what, what);
}

static void rejects(struct page *p)
{
	static const char *const heads[] = {
		"file", "line", "email", "reason", "cell"
	};

	put(p, "<h3>Rejected rows: ");
	count(p, "rejected", p->c.rejected);
	put(p, "</h3>");
	if (p->c.rejected == 0)
		return;
	reason_rows(p, STORE_PAGES_REJECT_REASONS, "reason");
	examples(p, STORE_PAGES_REJECTS, heads, 5);
	export_hint(p, "rejects");
}

/* Failed contacts grouped by Meisa's answer. */
static void failures(struct page *p)
{
	struct store_pages pg = STORE_PAGES_INIT;
	struct store_page_row row;

	if (!open_rows(p, &pg, STORE_PAGES_FAILURES, REPORT_EXAMPLES_MAX))
		return;
	put(p, "<table><tr><th>HTTP</th><th>Meisa's message</th><th"
	    " class=\"n\">contacts</th></tr>");
	while (next_row(p, &pg, &row)) {
		put(p, "<tr><td>");
		esc(p, row.cells[0] ? row.cells[0] : "\xe2\x80\x94", 0);
		put(p, "</td><td>");
		esc(p, row.cells[1] ? row.cells[1] : "(no message)", CELL_MAX);
		put(p, "</td><td class=\"n\">");
		num(p, row.cells[2] ? atoll(row.cells[2]) : 0);
		put(p, "</td></tr>");
	}
	put(p, "</table>");
	store_pages_close(&pg);
}

static void failed(struct page *p)
{
	static const char *const heads[] = { "email", "HTTP", "message" };

	put(p, "<h3>Failed contacts: ");
	count(p, "failed", p->c.failed);
	put(p, "</h3>");
	if (p->c.failed == 0)
		return;
	failures(p);
	examples(p, STORE_PAGES_FAILED, heads, 3);
	put(p, "<p class=\"hint\">Fix the cause, then send them again with"
	    " <code>meisa-bulk push --retry-failed</code>.</p>");
	export_hint(p, "results");
}

static void problems(struct page *p)
{
	put(p, "<section id=\"problems\"><h2>What went wrong</h2>");
	rejects(p);
	failed(p);
	put(p, "<h3>Missing contacts: ");
	count(p, "missing", p->c.missing);
	put(p, "</h3><p class=\"hint\">In the previous generation (the last"
	    " dump) but not in this one; never deleted from Meisa.</p>");
	if (p->c.missing)
		export_hint(p, "missing");
	put(p, "<h3>Cleared fields not sent: ");
	count(p, "cleared_fields_not_sent", p->c.cleared_fields);
	put(p, "</h3><p class=\"hint\">Custom fields emptied at the source"
	    " that Meisa still holds (an upsert cannot clear them); listed in"
	    " the cleared_fields column of <code>meisa-bulk export results -o"
	    " results.csv</code>.</p>");
	put(p, "<h3>Suppressed: ");
	count(p, "suppressed", p->c.suppressed);
	put(p, "</h3><p class=\"hint\">Never enrolled: do not email at the"
	    " source, or on Meisa's unsubscribed list.</p>");
	if (p->c.suppressed)
		export_hint(p, "suppressed");
	put(p, "</section>\n");
}

static void size_text(struct page *p, const char *bytes)
{
	double n = bytes ? atof(bytes) : 0;

	if (!bytes)
		put(p, "\xe2\x80\x94");
	else if (n >= 1e9)
		putf(p, "%.1f GB", n / 1e9);
	else if (n >= 1e6)
		putf(p, "%.1f MB", n / 1e6);
	else if (n >= 1e3)
		putf(p, "%.1f kB", n / 1e3);
	else
		putf(p, "%.0f B", n);
}

static void cell(struct page *p, const char *s, const char *cls)
{
	putf(p, "<td%s>", cls);
	esc(p, s ? s : "\xe2\x80\x94", 0);
	put(p, "</td>");
}

static void input_row(struct page *p, const char *const *c)
{
	int complete = c[10] && atoi(c[10]);

	cell(p, c[0], " class=\"n\"");
	put(p, "<td><code>");
	esc(p, c[1], 0);
	put(p, "</code>");
	if (c[12]) {
		put(p, "<br><span class=\"no\">");
		esc(p, c[12], CELL_MAX);
		put(p, "</span>");
	}
	put(p, "</td><td class=\"n\">");
	size_text(p, c[2]);
	put(p, "</td><td><code>");
	esc(p, c[3] ? c[3] : "\xe2\x80\x94", 0);
	put(p, "</code></td>");
	cell(p, c[4], " class=\"n\"");
	cell(p, c[5], " class=\"n\"");
	cell(p, c[6], " class=\"n\"");
	cell(p, c[7], "");
	put(p, "<td>");
	esc(p, c[8] ? c[8] : "\xe2\x80\x94", 0);
	if (c[9]) {
		put(p, ", ");
		esc(p, strcmp(c[9], "\t") ? c[9] : "tab", 0);
	}
	/* Staging reads UTF-8 only (source.h refuses UTF-16 and binary). */
	putf(p, "</td><td>%s</td><td class=\"%s\">%s</td><td>",
	     complete ? "UTF-8" : "\xe2\x80\x94", complete ? "ok" : "no",
	     complete ? "complete" : "incomplete");
	when(p, c[11]);
	put(p, "</td></tr>");
}

static void inputs(struct page *p)
{
	struct store_pages pg = STORE_PAGES_INIT;
	struct store_page_row row;
	size_t n = 0;

	put(p, "<section id=\"inputs\"><h2>Input files</h2>");
	if (!open_rows(p, &pg, STORE_PAGES_INPUTS, LIST_MAX))
		return;
	put(p, "<table><tr><th class=\"n\">gen</th><th>file</th><th"
	    " class=\"n\">size</th><th>SHA-256</th><th class=\"n\">rows</th>"
	    "<th class=\"n\">rejected</th><th class=\"n\">duplicates</th>"
	    "<th>preset</th><th>format</th><th>encoding</th><th>read</th>"
	    "<th>staged</th></tr>");
	while (next_row(p, &pg, &row) && row.ncells >= 13) {
		input_row(p, row.cells);
		n++;
	}
	put(p, "</table>");
	store_pages_close(&pg);
	if (n == LIST_MAX)
		putf(p, "<p class=\"hint\">The latest %d files; <code>meisa-bulk"
		     " status --runs</code> lists every one.</p>", LIST_MAX);
	put(p, "</section>\n");
}

/* A count from a run's summary, "n what", after sep; nothing when NULL. */
static const char *did(struct page *p, const char *v, const char *what,
		       const char *sep)
{
	if (!v)
		return sep;
	put(p, sep);
	num(p, atoll(v));
	put(p, " ");
	put(p, what);
	return ", ";
}

/* What a run did, from the summary columns 7 .. 15 of a RUNS row. */
static void run_did(struct page *p, const char *const *c)
{
	const char *sep = "";

	sep = did(p, c[7], "files staged", sep);
	sep = did(p, c[8], "rows read", sep);
	sep = did(p, c[9], "new contacts", sep);
	sep = did(p, c[10], "updated contacts", sep);
	sep = did(p, c[11], "requests", sep);
	sep = did(p, c[12], "upserted", sep);
	sep = did(p, c[13], "failed", sep);
	sep = did(p, c[14], "enrollment chunks", sep);
	if (c[15] && atoi(c[15]))
		put(p, " (dry run)");
	if (!*sep)
		put(p, "\xe2\x80\x94");
}

static void run_row(struct page *p, const char *const *c)
{
	int ended = c[3] != NULL, status = c[5] ? atoi(c[5]) : -1;

	cell(p, c[0], " class=\"n\"");
	cell(p, c[1], "");
	put(p, "<td>");
	when(p, c[2]);
	put(p, "</td><td>");
	if (ended)
		when(p, c[3]);
	else
		put(p, "running or stopped");
	put(p, "</td><td class=\"n\">");
	duration(p, ended && c[4] ? atoll(c[4]) : -1);
	putf(p, "</td><td class=\"%s\">", status == 0 ? "ok" : "no");
	if (c[5])
		putf(p, "%d", status);
	else
		put(p, "\xe2\x80\x94");
	put(p, "</td><td>");
	run_did(p, c);
	put(p, "<br><code>");
	esc(p, c[6], 2 * CELL_MAX);
	put(p, "</code></td></tr>");
}

static void runs(struct page *p)
{
	struct store_pages pg = STORE_PAGES_INIT;
	struct store_page_row row;
	size_t n = 0;

	put(p, "<section id=\"runs\"><h2>Runs</h2>");
	if (!open_rows(p, &pg, STORE_PAGES_RUNS, LIST_MAX))
		return;
	put(p, "<table><tr><th class=\"n\">#</th><th>kind</th><th>started"
	    " (UTC)</th><th>ended</th><th class=\"n\">took</th><th>exit</th>"
	    "<th>what it did</th></tr>");
	while (next_row(p, &pg, &row) && row.ncells >= 16) {
		run_row(p, row.cells);
		n++;
	}
	put(p, "</table>");
	store_pages_close(&pg);
	if (n == LIST_MAX)
		putf(p, "<p class=\"hint\">The latest %d runs; <code>meisa-bulk"
		     " status --runs</code> lists every one.</p>", LIST_MAX);
	if (n == 0)
		put(p, "<p class=\"hint\">No run yet.</p>");
	put(p, "</section>\n");
}

static void footer(struct page *p)
{
	put(p, "<footer>Written by meisa-bulk");
	if (p->o->version) {
		put(p, " ");
		esc(p, p->o->version, 0);
	}
	put(p, " from the staging file alone; this page loads nothing from"
	    " the network.</footer>\n</main></body></html>\n");
}

enum mb_rc report_html(struct db *db, const struct report_opts *o,
		       struct buf *out, struct err *e)
{
	struct page p;

	memset(&p, 0, sizeof(p));
	p.out = out;
	p.db = db;
	p.e = e;
	p.o = o;
	p.now_ms = o->now_ms ? o->now_ms : db_now_ms();
	buf_reset(out);
	p.rc = status_load(db, &p.c, e);
	find_rate(&p);
	head(&p);
	header(&p);
	cards(&p);
	funnel(&p);
	progress(&p);
	problems(&p);
	inputs(&p);
	runs(&p);
	all_counts(&p);
	footer(&p);
	if (p.rc == MB_ETOOBIG && !e->rc)
		err_set(e, p.rc, "the report of '%s' is over %zu MiB",
			db->path, REPORT_MAX >> 20);
	return p.rc;
}

/* ---- writing --------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static enum mb_rc write_stdout(const struct buf *page, struct err *e)
{
	if (fwrite(page->data, 1, page->len, stdout) != page->len ||
	    fflush(stdout) != 0)
		return err_set(e, MB_EIO, "cannot write to standard output:"
			       " %s", strerror(errno));
	return MB_OK;
}

/* A character device or FIFO is written in place (as csvwrite does). */
static enum mb_rc write_direct(const char *path, const struct buf *page,
			       struct err *e)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), failed;

	if (fd < 0)
		return err_set(e, MB_EIO, "cannot open '%s': %s", path,
			       strerror(errno));
	failed = write_all(fd, page->data, page->len);
	if (close(fd) != 0)
		failed = -1;
	if (failed)
		return err_set(e, MB_EIO, "cannot write '%s': %s", path,
			       strerror(errno));
	return MB_OK;
}

/* A temporary file beside path (mode 0600), renamed over it when whole. */
static enum mb_rc write_renamed(const char *path, const struct buf *page,
				struct err *e)
{
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0, fd, failed;
	char *tmp = xmalloc((size_t)dir_len + 32);
	enum mb_rc rc = MB_OK;

	sprintf(tmp, "%.*s.meisa-report.XXXXXX", dir_len, path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = err_set(e, MB_EIO, "cannot create '%s': %s", path,
			     strerror(errno));
		goto out;
	}
	failed = fchmod(fd, S_IRUSR | S_IWUSR) != 0 ||
		 write_all(fd, page->data, page->len) != 0 || fsync(fd) != 0;
	failed |= close(fd) != 0;
	if (failed || rename(tmp, path) != 0) {
		rc = err_set(e, MB_EIO, "cannot write '%s': %s", path,
			     strerror(errno));
		unlink(tmp);
	}
out:
	free(tmp);
	return rc;
}

static enum mb_rc write_page(const char *path, const struct buf *page,
			     struct err *e)
{
	struct stat st;

	if (!strcmp(path, "-"))
		return write_stdout(page, e);
	if (stat(path, &st) == 0 && (S_ISCHR(st.st_mode) ||
				     S_ISFIFO(st.st_mode)))
		return write_direct(path, page, e);
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return err_set(e, MB_EIO, "cannot write '%s': not a regular"
			       " file", path);
	return write_renamed(path, page, e);
}

enum mb_rc report_write(struct db *db, const char *path,
			const struct report_opts *o, struct err *e)
{
	struct buf page = BUF_INIT;
	enum mb_rc rc;

	if (!*path)
		return err_set(e, MB_EUSAGE, "-o wants a file name");
	buf_init(&page, REPORT_MAX);
	rc = export_check_output(db->path, path, e);
	if (rc == MB_OK)
		rc = report_html(db, o, &page, e);
	if (rc == MB_OK)
		rc = write_page(path, &page, e);
	buf_release(&page);
	return rc;
}
