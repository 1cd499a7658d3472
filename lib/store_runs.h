/*
 * store_runs: the run history of a staging file (store layer).
 *
 * Owns the writes and the text reads of the runs table and of the inputs
 * a run staged: a row per command run (kind: stage, push, import) with its
 * command line (never a secret: the key is not an argument), times, exit
 * status and a JSON summary; inputs.run_id links the files it staged.
 * The JSON reads of the same history (status --runs --json, last_run) are
 * store_report's.
 *
 *   int64_t run = 0;
 *   rc = store_runs_begin(db, "stage", args, &run, &e);
 *   ...
 *   store_runs_end(db, run, exit_status, summary_json);
 *
 *   struct store_runs_lines l = STORE_RUNS_LINES_INIT;
 *   const char *line;
 *   rc = store_runs_history_open(&l, db, &e);
 *   while (rc == MB_OK && (rc = store_runs_lines_next(&l, &line, &e)) ==
 *          MB_OK && line)
 *           puts(line);
 *   store_runs_lines_close(&l);
 *
 * Neither the writes nor the reads open a transaction: each statement is
 * its own, so a run's row is on disk before the run does anything.
 * Errors: MB_OK or e filled via db_fail (MB_EDB, or MB_ELOCKED when
 * SQLite is busy) naming the staging file and SQLite's message; a failed
 * step is an error, never the end of the lines.  The db is borrowed and
 * must outlive a cursor.
 */
#ifndef MB_STORE_RUNS_H
#define MB_STORE_RUNS_H

#include <stdint.h>

#include "db.h"
#include "err.h"

/*
 * Record the start of a run now; *id is its number (written on success
 * only).  kind and args are borrowed.
 */
MB_MUST_USE enum mb_rc store_runs_begin(struct db *db, const char *kind,
					const char *args, int64_t *id,
					struct err *e);

/*
 * Record the end of run id now: exit_status and summary_json (a JSON text
 * or NULL, borrowed).  Nothing for id 0 (no run began).  Errors are
 * ignored: the run is over, and its outcome is already the caller's.
 */
void store_runs_end(struct db *db, int64_t id, int exit_status,
		    const char *summary_json);

/* A cursor over lines of text; callers never touch its members. */
struct store_runs_lines {
	struct db *db;           /* borrowed */
	sqlite3_stmt *stmt;
};

#define STORE_RUNS_LINES_INIT { NULL, NULL }

/*
 * `status --runs`: every run, oldest first, as "id kind started ended exit
 * command" (columns of 4, 7, 24, 24 and 5 characters), each followed by the
 * files it staged ("       input: path  (size bytes, sha256 ..., generation
 * g, n rows)").  store_runs_lines_close is needed whatever it returns.
 */
MB_MUST_USE enum mb_rc store_runs_history_open(struct store_runs_lines *l,
					       struct db *db, struct err *e);

/*
 * -v after staging: each file run staged, in order, as "path: preset,
 * kind, delimiter 'c', n rows, r rejected, d duplicates" (a '?' for what
 * is unknown).  store_runs_lines_close is needed whatever it returns.
 */
MB_MUST_USE enum mb_rc store_runs_inputs_open(struct store_runs_lines *l,
					      struct db *db, int64_t run,
					      struct err *e);

/*
 * The next line into *line, or *line = NULL after the last.  The text
 * belongs to the cursor until the next call or store_runs_lines_close.
 */
MB_MUST_USE enum mb_rc store_runs_lines_next(struct store_runs_lines *l,
					     const char **line,
					     struct err *e);

/* Free the cursor; safe on STORE_RUNS_LINES_INIT and twice. */
void store_runs_lines_close(struct store_runs_lines *l);

#endif
