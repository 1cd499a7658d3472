/*
 * csvread: drive libcsv over a source, counting physical lines.
 *
 * libcsv parses but does not count lines, and its callbacks fire at the end
 * of a field or row, not where the row started.  So each block is cut at
 * every line terminator (LF, CR, or CR LF taken as one) and fed to libcsv a
 * line at a time: when the parser is between rows before a line is fed, any
 * row that begins while feeding it begins on that line.  One extra call per
 * line costs little next to libcsv's per-byte loop.
 *
 * Fields are copied out of libcsv's buffer into one per-row arena (a capped
 * struct buf) and handed to the caller when the row ends.  Size limits are
 * enforced between calls by looking at the parser's public state and
 * throwing away the bytes of a field that is already too long, so a hostile
 * file cannot make memory grow.
 */
#include "csvread.h"

#include <csv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

/*
 * libcsv 3.x keeps these parser states private (libcsv.c); the values have
 * not changed since 2.0.  tests/unit/test_csvread.c checks them.
 */
#define LIBCSV_ROW_NOT_BEGUN 0
#define LIBCSV_FIELD_BEGUN 2
#define LIBCSV_FIELD_MIGHT_HAVE_ENDED 3

#define BLOCK_SIZE (128 * 1024)
#define MAX_FIELD_DEFAULT ((size_t)1 << 20)
#define MAX_FIELDS_DEFAULT 10000
/* A row may hold several large fields, but not without bound. */
#define ROW_FACTOR 16
#define SPACE_RUN_MAX (64 * 1024)

struct span {
	size_t off;
	size_t len;
};

struct reader {
	struct csv_parser parser;
	size_t max_field;
	size_t max_fields;
	csvread_row_fn fn;
	void *ctx;
	struct err *e;
	enum mb_rc rc;           /* set when fn fails: stop */

	struct buf arena;        /* this row's fields, each NUL-terminated */
	struct span *spans;
	struct csv_field *fields;
	size_t nfields;          /* fields seen in this row */
	size_t fields_cap;
	const char *error;       /* why this row is unusable, or NULL */
	char error_text[96];

	unsigned long line;      /* physical line of the bytes being fed */
	unsigned long row_line;  /* line where the current row began */
	unsigned long last_good_line;  /* where the last complete row ended */
	unsigned long rows;
	int prev_cr;             /* the last block ended with CR */
};

__attribute__((format(printf, 2, 3)))
static void row_fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->error)
		return;
	va_start(ap, fmt);
	vsnprintf(r->error_text, sizeof(r->error_text), fmt, ap);
	va_end(ap);
	r->error = r->error_text;
}

/*
 * Copy a field with its NUL into the arena.  This runs for every field of
 * the file, so the common case (room already there) skips buf_grow().
 */
static void keep_field(struct reader *r, const char *p, size_t len)
{
	struct buf *a = &r->arena;
	size_t off = a->len;

	if (len + 1 > a->max - a->len ||
	    (a->cap - a->len < len + 2 && buf_grow(a, len + 1) != MB_OK)) {
		row_fail(r, "row longer than %zu bytes", a->max);
		return;
	}
	memcpy(a->data + off, p, len);
	a->data[off + len] = '\0';
	a->len += len + 1;
	a->data[a->len] = '\0';
	if (r->nfields == r->fields_cap) {
		r->fields_cap = r->fields_cap ? r->fields_cap * 2 : 32;
		if (r->fields_cap > r->max_fields)
			r->fields_cap = r->max_fields;
		r->spans = xrealloc(r->spans,
				    r->fields_cap * sizeof(*r->spans));
		r->fields = xrealloc(r->fields,
				     r->fields_cap * sizeof(*r->fields));
	}
	r->spans[r->nfields].off = off;
	r->spans[r->nfields].len = len;
}

static void on_field(void *data, size_t len, void *vr)
{
	struct reader *r = vr;

	if (r->rc != MB_OK || r->error) {
		r->nfields++;
		return;
	}
	if (r->nfields >= r->max_fields)
		row_fail(r, "more than %zu fields", r->max_fields);
	else if (len > r->max_field)
		row_fail(r, "field longer than %zu bytes", r->max_field);
	else
		keep_field(r, data ? data : "", len);
	r->nfields++;
}

static void deliver(struct reader *r)
{
	struct csv_row row = { NULL, 0, r->row_line, r->error };
	size_t i;

	if (!r->error) {
		for (i = 0; i < r->nfields; i++) {
			r->fields[i].data = r->arena.data + r->spans[i].off;
			r->fields[i].len = r->spans[i].len;
		}
		row.fields = r->fields;
		row.nfields = r->nfields;
	}
	r->rc = r->fn(r->ctx, &row, r->e);
}

static void on_row(int c, void *vr)
{
	struct reader *r = vr;

	if (r->rc == MB_OK)
		deliver(r);
	r->rows++;
	r->last_good_line = r->line;
	r->nfields = 0;
	r->error = NULL;
	buf_reset(&r->arena);
}

/*
 * The field being parsed is already too long: flag the row and drop its
 * bytes.  libcsv strips the field's trailing spaces (p->spaces of them)
 * and, after a quote in a quoted field, that quote when the field ends, so
 * the quote is kept and the space count reset to keep its arithmetic valid.
 * Trailing spaces would be stripped, so they do not count toward the limit
 * unless there are more than SPACE_RUN_MAX of them: they are buffered too.
 */
static void cap_field(struct reader *r)
{
	struct csv_parser *p = &r->parser;
	size_t keep = p->pstate == LIBCSV_FIELD_MIGHT_HAVE_ENDED ? 1 : 0;
	size_t strip = p->spaces + keep;

	if (p->entry_pos <= r->max_field + strip &&
	    p->spaces <= SPACE_RUN_MAX)
		return;
	row_fail(r, "field longer than %zu bytes", r->max_field);
	if (keep)
		p->entry_buf[0] = p->entry_buf[p->entry_pos - 1 - p->spaces];
	p->entry_pos = keep;
	p->spaces = 0;
}

static enum mb_rc parse(struct reader *r, const char *p, size_t n)
{
	struct csv_parser *cp = &r->parser;

	if (cp->pstate == LIBCSV_ROW_NOT_BEGUN)
		r->row_line = r->line;
	if (csv_parse(cp, p, n, on_field, on_row, r) != n)
		return err_set(r->e, MB_EINTERNAL, "libcsv: %s",
			       csv_strerror(csv_error(cp)));
	if (cp->entry_pos > r->max_field)
		cap_field(r);
	return r->rc;
}

static const char *next_term(const char *p, const char *end,
			     const char **lf, const char **cr)
{
	if (*lf && *lf < p)
		*lf = memchr(p, '\n', (size_t)(end - p));
	if (*cr && *cr < p)
		*cr = memchr(p, '\r', (size_t)(end - p));
	if (*lf && (!*cr || *lf < *cr))
		return *lf;
	return *cr;
}

/*
 * Feed one block, a physical line at a time.  The LF of a CR LF split
 * across two blocks belongs to the line the CR already ended.
 */
static enum mb_rc feed(struct reader *r, const char *p, size_t n)
{
	const char *end = p + n, *t;
	const char *lf = NULL, *cr = NULL;
	enum mb_rc rc = MB_OK;
	size_t len;

	if (r->prev_cr && n && *p == '\n') {
		rc = parse(r, p, 1);
		p++;
	}
	r->prev_cr = 0;
	if (p < end) {
		lf = memchr(p, '\n', (size_t)(end - p));
		cr = memchr(p, '\r', (size_t)(end - p));
	}
	while (rc == MB_OK && p < end) {
		t = next_term(p, end, &lf, &cr);
		if (!t)
			return parse(r, p, (size_t)(end - p));
		len = (size_t)(t - p) + 1;
		if (*t == '\r') {
			if (t + 1 == end)
				r->prev_cr = 1;
			else if (t[1] == '\n')
				len++;
		}
		rc = parse(r, p, len);
		r->line++;
		p += len;
	}
	return rc;
}

/*
 * Fill block as far as the source goes.  *n is set even on failure: the
 * bytes decoded before damage are still parsed.
 */
static enum mb_rc read_block(struct source *src, char *block, size_t cap,
			     size_t *n, struct err *e)
{
	enum mb_rc rc = MB_OK;
	size_t got, total = 0;

	while (total < cap) {
		rc = source_read(src, block + total, cap - total, &got, e);
		if (rc != MB_OK || !got)
			break;
		total += got;
	}
	*n = total;
	return rc;
}

static void reader_init(struct reader *r, const struct csvread_opts *opts)
{
	memset(r, 0, sizeof(*r));
	r->max_field = opts && opts->max_field ? opts->max_field
					       : MAX_FIELD_DEFAULT;
	r->max_fields = opts && opts->max_fields ? opts->max_fields
						 : MAX_FIELDS_DEFAULT;
	buf_init(&r->arena, r->max_field * ROW_FACTOR);
	r->line = 1;
	r->rc = MB_OK;
	csv_init(&r->parser, CSV_APPEND_NULL);
	csv_set_realloc_func(&r->parser, xrealloc);
	csv_set_free_func(&r->parser, free);
	/*
	 * libcsv grows its field buffer linearly, by this much, with a
	 * realloc() each time: big steps keep a 1 MiB field to a few.
	 */
	csv_set_blk_size(&r->parser, 256 * 1024);
}

static void reader_release(struct reader *r)
{
	csv_free(&r->parser);
	buf_release(&r->arena);
	free(r->spans);
	free(r->fields);
}

/*
 * End of input: deliver a last row without a line end.  Input that ends
 * inside a quoted field is damage, like a truncated gzip: a file cut short
 * (or a stray quote that swallowed the rest); the rows before it were
 * delivered, the cut one is not.
 */
static enum mb_rc finish(struct reader *r, const struct source *src)
{
	struct csv_parser *p = &r->parser;

	if (p->pstate == LIBCSV_FIELD_BEGUN && p->quoted && r->rc == MB_OK)
		return err_set(r->e, MB_EDATA, "'%s' ends inside a quoted"
			       " field that begins on line %lu: the file is"
			       " truncated or has a stray quote; %s",
			       src->path ? src->path : "input", r->row_line,
			       r->rows ? "rows before it were read" :
			       "no complete row before it");
	csv_fini(p, on_field, on_row, r);
	return r->rc;
}

/* The source failed after the rows so far: say how far the input is good. */
static enum mb_rc source_failed(struct reader *r, const struct err *why)
{
	if (r->rows)
		return err_set(r->e, why->rc, "%s; rows up to line %lu were "
			       "read", why->msg, r->last_good_line);
	return err_set(r->e, why->rc, "%s; no complete row before it",
		       why->msg);
}

enum mb_rc csvread_run(struct source *src, const struct csvread_opts *opts,
		       csvread_row_fn fn, void *ctx, char *delimiter_out,
		       struct err *e)
{
	struct reader r;
	struct err local = ERR_INIT, src_err = ERR_INIT;
	char *block = xmalloc(BLOCK_SIZE);
	char delimiter = opts ? opts->delimiter : 0;
	enum mb_rc rc, read_rc;
	size_t n = 0;

	reader_init(&r, opts);
	r.fn = fn;
	r.ctx = ctx;
	r.e = e ? e : &local;
	read_rc = read_block(src, block, BLOCK_SIZE, &n, &src_err);
	if (!delimiter)
		delimiter = csvread_detect_delimiter(block, n);
	csv_set_delim(&r.parser, (unsigned char)delimiter);
	for (;;) {
		rc = n ? feed(&r, block, n) : MB_OK;
		if (rc != MB_OK)
			goto out;
		if (read_rc != MB_OK) {
			rc = source_failed(&r, &src_err);
			goto out;
		}
		if (!n)
			break;
		read_rc = read_block(src, block, BLOCK_SIZE, &n, &src_err);
	}
	rc = finish(&r, src);
	if (rc == MB_OK && delimiter_out)
		*delimiter_out = delimiter;
out:
	reader_release(&r);
	free(block);
	return rc;
}

char csvread_detect_delimiter(const char *p, size_t n)
{
	static const char candidates[] = { ',', ';', '\t', '|' };
	size_t count[sizeof(candidates)] = { 0 };
	size_t i, k, best = 0;
	int quoted = 0;

	for (i = 0; i < n && (p[i] == '\n' || p[i] == '\r'); i++)
		;
	for (; i < n; i++) {
		if (p[i] == '"')
			quoted = !quoted;
		else if (!quoted && (p[i] == '\n' || p[i] == '\r'))
			break;
		else if (!quoted)
			for (k = 0; k < sizeof(candidates); k++)
				count[k] += p[i] == candidates[k];
	}
	for (k = 1; k < sizeof(candidates); k++)
		if (count[k] > count[best])
			best = k;
	for (k = 0; k < sizeof(candidates); k++)
		if (k != best && count[k] == count[best])
			return ',';
	return candidates[best];
}

struct split {
	void (*fn)(void *ctx, const char *field, size_t len);
	void *ctx;
};

static void split_field(void *data, size_t len, void *vs)
{
	struct split *s = vs;

	s->fn(s->ctx, data ? data : "", len);
}

enum mb_rc csvread_split(const char *p, size_t n, char delimiter,
			 void (*fn)(void *ctx, const char *field, size_t len),
			 void *ctx, struct err *e)
{
	struct csv_parser parser;
	struct split s = { fn, ctx };
	enum mb_rc rc = MB_OK;

	csv_init(&parser, CSV_APPEND_NULL);
	csv_set_realloc_func(&parser, xrealloc);
	csv_set_free_func(&parser, free);
	csv_set_delim(&parser, (unsigned char)delimiter);
	if (csv_parse(&parser, p, n, split_field, NULL, &s) != n)
		rc = err_set(e, MB_EINTERNAL, "libcsv: %s",
			     csv_strerror(csv_error(&parser)));
	else
		csv_fini(&parser, split_field, NULL, &s);
	csv_free(&parser);
	return rc;
}
