/*
 * fuzz_parse: libFuzzer target for the input path without the database.
 *
 * The same inputs as fuzz_stage (fuzz_common.h), driven through the stages
 * stage.c's reader thread runs, called directly: source_open (kind
 * detection, gzip, BOM), csvread_run, mapping_build on the header row,
 * mapping_apply (validation, typing, tags, statuses) and stage_body on
 * every data row, then source_fingerprint.  With no SQLite and no threads
 * it runs about ten times faster than fuzz_stage, so it goes deeper into
 * the parsers in the same time.  Byte 1 bit 1 (here only) shrinks
 * csvread's size limits so that small inputs reach them.
 *
 * Checks, each an abort (a finding):
 *   - csvread gives rows in order of strictly increasing physical line;
 *   - a row without error has at least one field, and every field's data is
 *     NUL-terminated at len;
 *   - every accepted record has an email, and its body is valid JSON (as
 *     SQLite's json_valid sees it) that is one object;
 *   - csvread_run ends with MB_OK or the source's MB_EDATA / a mapping
 *     error for the file as a whole (MB_EDATA or MB_EUSAGE).
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvread.h"
#include "mapping.h"
#include "source.h"
#include "stage.h"

#include "fuzz_common.h"

struct run {
	struct fuzz_sel sel;
	struct mapping_opts mopts;
	const char *path;
	struct mapping map;
	int have_header;
	struct record rec;
	struct buf body;
	unsigned long last_line;
};

static char dir[64];
static sqlite3 *json_db;
static sqlite3_stmt *json_check;

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_parse: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	abort();
}

static void check_body(const struct buf *body)
{
	sqlite3_bind_text(json_check, 1, buf_str(body), (int)body->len,
			  SQLITE_STATIC);
	if (sqlite3_step(json_check) != SQLITE_ROW ||
	    sqlite3_column_int(json_check, 0) != 1)
		fail("a body is not one JSON object", buf_str(body));
	sqlite3_reset(json_check);
}

static void check_row(struct run *r, const struct csv_row *row)
{
	size_t i;

	if (row->line <= r->last_line && r->last_line)
		fail("rows out of line order", NULL);
	r->last_line = row->line;
	if (row->error)
		return;
	if (!row->nfields)
		fail("a row with no field and no error", NULL);
	for (i = 0; i < row->nfields; i++)
		if (row->fields[i].data[row->fields[i].len] != '\0')
			fail("a field is not NUL-terminated", NULL);
}

static enum mb_rc on_row(void *ctx, const struct csv_row *row, struct err *e)
{
	struct run *r = ctx;
	enum mb_rc rc;

	check_row(r, row);
	if (!r->have_header) {
		if (row->error)
			return err_set(e, MB_EDATA, "header: %s", row->error);
		r->have_header = 1;
		return mapping_build(&r->map, &r->mopts, r->path, row, e);
	}
	rc = mapping_apply(&r->map, row, &r->rec, e);
	if (rc != MB_OK || r->rec.reject)
		return rc;
	if (!r->rec.email.len)
		fail("an accepted record has no email", NULL);
	buf_reset(&r->body);
	rc = stage_body(&r->rec, r->sel.extras ? "initial_sync" : "import",
			&r->body);
	if (rc == MB_OK)
		check_body(&r->body);
	return rc == MB_ETOOBIG ? MB_OK : rc;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		fail("cannot write the input file", path);
}

static void cleanup(void)
{
	sqlite3_finalize(json_check);
	sqlite3_close(json_db);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/dev/shm/fuzz_parse.XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_parse.XXXXXX");
		if (!mkdtemp(dir))
			fail("mkdtemp", NULL);
	}
	if (sqlite3_open(":memory:", &json_db) != SQLITE_OK ||
	    sqlite3_prepare_v2(json_db, "SELECT json_valid(?1) AND"
			       " json_type(?1) = 'object'", -1, &json_check,
			       NULL) != SQLITE_OK)
		fail("sqlite", NULL);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csvread_opts copts = CSVREAD_OPTS_INIT;
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	struct run r;
	char path[128];
	char sha[65], delimiter = 0;
	uint64_t fsize = 0;
	enum mb_rc rc;

	if (size < 2)
		return 0;
	memset(&r, 0, sizeof(r));
	fuzz_select(data, &r.sel);
	r.mopts.preset = r.sel.preset;
	if (r.sel.extras) {
		r.mopts.tags = fuzz_tags;
		r.mopts.ntags = 2;
	}
	r.map = (struct mapping)MAPPING_INIT;
	record_init(&r.rec);
	buf_init(&r.body, BUF_MAX_DEFAULT);
	snprintf(path, sizeof(path), "%s/%s", dir, r.sel.name);
	r.path = path;
	write_file(path, data + 2, size - 2);
	copts.delimiter = r.sel.delimiter;
	/* Byte 1 bit 1: tiny limits, so the oversized-field and too-many-
	 * fields paths (1 MiB and 10,000 by default) are reached by inputs
	 * of a few hundred bytes. */
	if (data[1] & 2) {
		copts.max_field = 16 + (size_t)(data[1] >> 2) * 8;
		copts.max_fields = 2 + (size_t)(data[1] >> 2);
	}
	rc = source_open(&src, path, &e);
	if (rc == MB_OK) {
		rc = csvread_run(&src, &copts, on_row, &r, &delimiter, &e);
		if (source_fingerprint(&src, &fsize, sha, &e) != MB_OK)
			fail("source_fingerprint", e.msg);
		if (fsize != size - 2)
			fail("fingerprint size", NULL);
	}
	if (rc != MB_OK && rc != MB_EDATA && rc != MB_EUSAGE)
		fail("csvread_run", e.msg);
	source_close(&src);
	mapping_release(&r.map);
	record_release(&r.rec);
	buf_release(&r.body);
	unlink(path);
	return 0;
}
