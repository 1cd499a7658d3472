/*
 * store_pages: the rows behind `report`, read from the staging file
 * through a cursor (store layer).
 *
 * Owns the queries the HTML report needs besides the status counts
 * (store_report.h): skipped contacts by reason, rejects by reason and
 * their first rows, failed contacts by Meisa's message and their first
 * addresses, every input file, every run, the persisted send times and
 * the acknowledgement times.
 * A cursor walks one query; every cell is text (NULL for an SQL NULL).
 * report.c decides what the rows mean; this file only reads.
 *
 *   struct store_pages pg = STORE_PAGES_INIT;
 *   struct store_page_row row;
 *   rc = store_pages_open(&pg, db, STORE_PAGES_REJECTS, gen, 10, &e);
 *   while (rc == MB_OK && (rc = store_pages_next(&pg, &row, &e)) == MB_OK &&
 *          !row.done)
 *           ... row.cells[0 .. row.ncells - 1] ...
 *   store_pages_close(&pg);
 *
 * Reads only: no transaction is opened, so a DB_READER beside a running
 * push reads the last commit.  Errors: MB_OK or e filled via db_fail
 * (MB_EDB, or MB_ELOCKED when SQLite is busy); a failed step is an error,
 * never the end of the rows.  The db is borrowed and must outlive the
 * cursor.
 */
#ifndef MB_STORE_PAGES_H
#define MB_STORE_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

/*
 * What a cursor walks, with its columns.  gen is the generation the rows
 * are about (ignored by INPUTS, RUNS, SENDS and ACKED); limit caps the
 * rows of the kinds that list examples, reasons, inputs or runs (SENDS
 * and ACKED ignore it).
 */
enum store_pages_kind {
	STORE_PAGES_SKIPPED,     /* reason, contacts: skipped, by source
				    status, most first */
	STORE_PAGES_REJECT_REASONS,      /* reason, rows: most first */
	STORE_PAGES_REJECTS,     /* file, line, email, reason, detail: the
				    first rejected rows */
	STORE_PAGES_FAILURES,    /* http_status, error, contacts: failed
				    contacts by answer, most first */
	STORE_PAGES_FAILED,      /* email, http_status, error: the first
				    failed contacts */
	STORE_PAGES_INPUTS,      /* gen, path, size, sha256, rows_read,
				    rejected, duplicates, preset, kind,
				    delimiter, complete, staged_at, error:
				    the latest files, newest first */
	STORE_PAGES_RUNS,        /* id, kind, started_at, ended_at, seconds,
				    exit_status, args, then from its
				    summary: files_staged, rows_read,
				    contacts_new, contacts_updated,
				    requests, upserted, failed, chunks,
				    dry_run: the latest runs, newest first */
	STORE_PAGES_SENDS,       /* t_ms: every kept send time (push keeps
				    those its rate windows need), oldest
				    first */
	STORE_PAGES_ACKED,       /* acked_at: when Meisa acknowledged each
				    contact's last upsert, any generation,
				    in no order */
};

#define STORE_PAGES_COLUMNS_MAX 16

/* A cursor; callers never touch its members. */
struct store_pages {
	struct db *db;           /* borrowed */
	sqlite3_stmt *stmt;
	size_t ncells;
	const char *cells[STORE_PAGES_COLUMNS_MAX];
};

#define STORE_PAGES_INIT { NULL, NULL, 0, { NULL } }

/*
 * A row: ncells cells, each NUL-terminated text or NULL.  They belong to
 * the cursor and stay valid until the next store_pages_next or
 * store_pages_close.
 */
struct store_page_row {
	int done;                /* 1: no more rows, the rest is unset */
	size_t ncells;
	const char *const *cells;
};

/*
 * Prepare the query of kind.  store_pages_close is needed whatever it
 * returns.  MB_EINTERNAL for a kind that is not in the enum.
 */
MB_MUST_USE enum mb_rc store_pages_open(struct store_pages *pg,
					struct db *db,
					enum store_pages_kind kind,
					int64_t gen, int64_t limit,
					struct err *e);

/* The next row into *row, or row->done = 1 after the last. */
MB_MUST_USE enum mb_rc store_pages_next(struct store_pages *pg,
					struct store_page_row *row,
					struct err *e);

/* Free the cursor; NULL-safe, safe on STORE_PAGES_INIT, leaves it so. */
void store_pages_close(struct store_pages *pg);

#endif
