/*
 * store_rows: the rows each `export` writes, read from the staging file
 * through a cursor (store layer).
 *
 * Owns the queries behind `export rejects|results|suppressed|missing`
 * (export.h says what each file holds).  A cursor walks one of them: its
 * header (the column names) and then its rows, every cell as text (NULL
 * for an SQL NULL).  export.c writes them as CSV; this file only reads.
 *
 *   struct store_rows rows = STORE_ROWS_INIT;
 *   struct store_row row;
 *   rc = store_rows_open(&rows, db, STORE_ROWS_REJECTS, &e);
 *   if (rc == MB_OK)
 *           store_rows_header(&rows, &row);            (column names)
 *   while (rc == MB_OK && (rc = store_rows_next(&rows, &row, &e)) == MB_OK &&
 *          !row.done)
 *           ... row.cells[0 .. row.ncells - 1] ...
 *   store_rows_close(&rows);
 *
 * The cursor is one read statement: no transaction is opened, so a
 * DB_READER beside a running push reads the last commit.  Errors: MB_OK or
 * e filled via db_fail (MB_EDB, or MB_ELOCKED when SQLite is busy) naming
 * the staging file and SQLite's message; a failed step is an error, never
 * the end of the rows.  The db is borrowed and must outlive the cursor.
 */
#ifndef MB_STORE_ROWS_H
#define MB_STORE_ROWS_H

#include <stddef.h>

#include "db.h"
#include "err.h"

enum store_rows_kind {
	STORE_ROWS_REJECTS,      /* the latest generation's rejected rows */
	STORE_ROWS_RESULTS,      /* its contacts and what became of them */
	STORE_ROWS_SUPPRESSED,   /* its contacts not to email, and why */
	STORE_ROWS_MISSING,      /* the previous generation's, absent now */
};

#define STORE_ROWS_COLUMNS_MAX 16

/* A cursor; callers never touch its members. */
struct store_rows {
	struct db *db;           /* borrowed */
	sqlite3_stmt *stmt;
	size_t ncells;
	const char *cells[STORE_ROWS_COLUMNS_MAX];
};

#define STORE_ROWS_INIT { NULL, NULL, 0, { NULL } }

/*
 * A row: ncells cells, each NUL-terminated text or NULL.  They belong to
 * the cursor and stay valid until the next store_rows_next or
 * store_rows_close.
 */
struct store_row {
	int done;                /* 1: no more rows, the rest is unset */
	size_t ncells;
	const char *const *cells;
};

/*
 * Prepare the query of kind on db.  store_rows_close is needed whatever it
 * returns.  MB_EINTERNAL for a kind that is not in the enum.
 */
MB_MUST_USE enum mb_rc store_rows_open(struct store_rows *rows,
				       struct db *db,
				       enum store_rows_kind kind,
				       struct err *e);

/* The column names into *row (done = 0), after a successful open. */
void store_rows_header(struct store_rows *rows, struct store_row *row);

/* The next row into *row, or row->done = 1 after the last. */
MB_MUST_USE enum mb_rc store_rows_next(struct store_rows *rows,
				       struct store_row *row,
				       struct err *e);

/* Free the cursor; NULL-safe, safe on STORE_ROWS_INIT, leaves it so. */
void store_rows_close(struct store_rows *rows);

#endif
