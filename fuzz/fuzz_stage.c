/*
 * fuzz_stage: libFuzzer target for the input path, end to end.
 *
 * Each input is one file's bytes behind two selector bytes (see
 * fuzz_common.h); the file is written to a private directory on tmpfs and
 * given to stage_files(), the real entry point, so source detection (gzip,
 * zip, UTF-16, binary, BOM), csvread, mapping, validation, typing and the
 * SQLite writes all run as they do for `meisa-bulk stage`.  The selector
 * picks the options a user could give: the preset, the delimiter, a
 * Mailchimp file name (the name sets the status) and --tag extras.
 *
 * After each run the staging file must satisfy what SPEC.md promises, or
 * the target aborts (a finding, like a sanitizer report):
 *   - the result is MB_OK or MB_EDATA (a file refused or no usable row);
 *   - rows_read = rejected + duplicates + contacts;
 *   - every contact's body is valid JSON, byte-identical to its canonical
 *     rebuild (push sends it as it is).
 * Then every table is emptied, so each input starts from a fresh file and
 * a replay gives the same coverage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "mapping.h"
#include "stage.h"
#include "store_stage.h"

#include "fuzz_common.h"

static struct db db = DB_INIT;
static char dir[64];

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_stage: %s: %s\n", what, e ? e->msg : "");
	abort();
}

static void cleanup(void)
{
	char path[128];

	db_close(&db);
	snprintf(path, sizeof(path), "%s/stage.db", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stage.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stage.db-shm", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stage.db-journal", dir);
	unlink(path);
	for (size_t i = 0; i < sizeof(fuzz_names) / sizeof(*fuzz_names);
	     i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, fuzz_names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err e = ERR_INIT;
	char path[128];

	(void)argc;
	(void)argv;
	if (db_global_init() != MB_OK)
		die("db_global_init", NULL);
	snprintf(dir, sizeof(dir), "/dev/shm/fuzz_stage.XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_stage.XXXXXX");
		if (!mkdtemp(dir))
			die("mkdtemp", NULL);
	}
	snprintf(path, sizeof(path), "%s/stage.db", dir);
	if (db_open(&db, path, DB_CREATE, &e) != MB_OK ||
	    db_exec(&db, "CREATE TEMP TABLE fuzz_meta AS SELECT * FROM meta",
		    &e) != MB_OK)
		die("db_open", &e);
	atexit(cleanup);
	return 0;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		die("cannot write the input file", NULL);
}

static int64_t query_int(const char *sql)
{
	struct err e = ERR_INIT;
	int64_t v = 0;

	if (db_int(&db, sql, &v, &e) != MB_OK)
		die(sql, &e);
	return v;
}

static void check_invariants(void)
{
	char sql[4096];
	int64_t read, rejected, dups, contacts, bad;

	read = query_int("SELECT coalesce(sum(rows_read), 0) FROM inputs");
	rejected = query_int("SELECT count(*) FROM rejects");
	dups = query_int("SELECT count(*) FROM duplicates");
	contacts = query_int("SELECT count(*) FROM contacts");
	if (read != rejected + dups + contacts) {
		fprintf(stderr, "fuzz_stage: rows_read %lld != rejected %lld +"
			" duplicates %lld + contacts %lld\n", (long long)read,
			(long long)rejected, (long long)dups,
			(long long)contacts);
		abort();
	}
	bad = query_int("SELECT count(*) FROM contacts WHERE NOT"
			" json_valid(body)");
	if (bad) {
		fprintf(stderr, "fuzz_stage: %lld bodies are not JSON\n",
			(long long)bad);
		abort();
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM contacts WHERE"
		 " body IS NOT %s", store_stage_canonical_sql);
	bad = query_int(sql);
	if (bad) {
		fprintf(stderr, "fuzz_stage: %lld bodies are not canonical\n",
			(long long)bad);
		abort();
	}
}

/*
 * Back to the file as db_open made it: every table emptied, meta restored
 * from the copy taken at start.  Table names come from the schema itself,
 * so a new table or schema version needs no change here.
 */
static void reset(void)
{
	struct err e = ERR_INIT;
	sqlite3_stmt *s = NULL;
	char sql[256];

	if (db_exec(&db, "BEGIN", &e) != MB_OK ||
	    db_prepare(&db, &s, "SELECT name FROM sqlite_master WHERE type ="
		       " 'table' AND name NOT LIKE 'sqlite_%' AND name !="
		       " 'fuzz_meta'", &e) != MB_OK)
		die("reset", &e);
	while (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(sql, sizeof(sql), "DELETE FROM \"%s\"",
			 (const char *)sqlite3_column_text(s, 0));
		if (db_exec(&db, sql, &e) != MB_OK)
			die("reset", &e);
	}
	sqlite3_finalize(s);
	if (db_exec(&db, "INSERT INTO meta SELECT * FROM fuzz_meta; COMMIT",
		    &e) != MB_OK)
		die("reset", &e);
}

static void ignore_warning(void *ctx, int refused, const char *msg)
{
	(void)ctx;
	(void)refused;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stage_opts opts = { .map = { .preset = "auto" },
		.source = "import", .warn = ignore_warning };
	struct stage_counts counts;
	struct err e = ERR_INIT;
	struct fuzz_sel sel;
	char path[128];
	const char *paths[1] = { path };
	enum mb_rc rc;

	if (size < 2)
		return 0;
	fuzz_select(data, &sel);
	opts.map.preset = sel.preset;
	opts.delimiter = sel.delimiter;
	if (sel.extras) {
		opts.map.tags = fuzz_tags;
		opts.map.ntags = 2;
		opts.source = "initial_sync";
	}
	snprintf(path, sizeof(path), "%s/%s", dir, sel.name);
	write_file(path, data + 2, size - 2);
	rc = stage_files(&db, &opts, paths, 1, &counts, &e);
	if (rc != MB_OK && rc != MB_EDATA)
		die("stage_files", &e);
	check_invariants();
	reset();
	unlink(path);
	return 0;
}
