/*
 * store_report: the staging file as status reads it (store layer).
 *
 * Owns every query behind `status` and `status --runs`: the generation
 * numbers, the pass over the contacts that status tallies, the counts
 * taken from indexes, the request count, the run history as JSON and the
 * status object as JSON.  All are reads: none opens a transaction, so each
 * runs in its own implicit one (a DB_READER beside a running push sees the
 * last commit).  status.c decides what the rows mean; this file only reads.
 *
 *   struct store_pass p = STORE_PASS_INIT;
 *   struct store_pass_row row;
 *   rc = store_pass_open(&p, db, gen, previous, &e);
 *   while (rc == MB_OK && (rc = store_pass_next(&p, &row, &e)) == MB_OK &&
 *          !row.done)
 *           ... row.state, row.enroll_status ...
 *   store_pass_close(&p);
 *
 * Errors: every function returns MB_OK or fills e via db_fail (MB_EDB, or
 * MB_ELOCKED when SQLite is busy), naming the staging file and SQLite's
 * message; a failed step is an error, never "no row".  Out-parameters are
 * written only on success.  The db is borrowed throughout.
 */
#ifndef MB_STORE_REPORT_H
#define MB_STORE_REPORT_H

#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "err.h"

/*
 * The enroll_status values that say what became of an address: Meisa's
 * documented per-address statuses, and ours (acknowledged: a 2xx answer
 * without a results list; failed: the chunk was refused; suppressed also
 * when an address was unsubscribed before its chunk went out again).  Any
 * other value, as Meisa sent it, or missing_from_answer (the answer's
 * results did not list the address) is counted in enroll_unknown.  An SQL
 * list, for "enroll_status NOT IN (" STATUS_ENROLL_KNOWN ")".
 */
#define STATUS_ENROLL_KNOWN "'enrolled', 'already_enrolled', 'suppressed'," \
	" 'invalid_email', 'acknowledged', 'failed'"

/*
 * What status reports (status.h says what each count means).  Defined
 * here because the store fills part of it and turns it into JSON.
 */
struct status_counts {
	int64_t rows_read, rejected, duplicates, contacts;
	int64_t suppressed, skipped, upserted, failed, pending;
	int64_t enrolled, requests, unconfirmed, meisa_unsubscribed;
	int64_t chunks, chunks_acknowledged;
	int64_t generation;      /* the latest; 0 when nothing was staged */
	int64_t unchanged;       /* upserted earlier, same body: not sent */
	int64_t missing;         /* in the previous generation, not this one */
	int64_t cleared_fields;  /* emptied custom fields Meisa still holds */
	int64_t enroll_unknown;  /* enroll_status not STATUS_ENROLL_KNOWN */
};

/*
 * The latest generation (*latest) and the one before it (*previous); 0
 * for either that does not exist.
 */
MB_MUST_USE enum mb_rc store_report_generations(struct db *db,
						int64_t *latest,
						int64_t *previous,
						struct err *e);

/*
 * The pass: every contact of generation gen or previous (previous <= 0:
 * none), in rowid order, walking the table once.
 */
struct store_pass {
	struct db *db;           /* borrowed */
	sqlite3_stmt *stmt;
};

#define STORE_PASS_INIT { NULL, NULL }

/*
 * One contact of the pass.  The strings belong to the pass and stay valid
 * until the next store_pass_next or store_pass_close.
 */
struct store_pass_row {
	int done;                /* 1: no more rows, the rest is unset */
	int64_t gen;             /* gen or previous */
	const char *state;       /* pending, sent, upserted, failed, skipped */
	int has_acked_gen;       /* 0: never acknowledged */
	int64_t acked_gen;
	const char *enroll_status;       /* NULL when none */
	int enroll_unknown;      /* enroll_status not STATUS_ENROLL_KNOWN */
};

/* Prepare the pass; store_pass_close is needed whatever it returns. */
MB_MUST_USE enum mb_rc store_pass_open(struct store_pass *p, struct db *db,
				       int64_t gen, int64_t previous,
				       struct err *e);

/* The next contact into *row, or row->done = 1 after the last. */
MB_MUST_USE enum mb_rc store_pass_next(struct store_pass *p,
				       struct store_pass_row *row,
				       struct err *e);

/* Free the pass; NULL-safe, safe on STORE_PASS_INIT, leaves it so. */
void store_pass_close(struct store_pass *p);

/*
 * The counts of generation gen that come from indexes, into c: rows_read,
 * rejected, duplicates, suppressed, unconfirmed, meisa_unsubscribed,
 * chunks, chunks_acknowledged and cleared_fields.  Other fields untouched.
 */
MB_MUST_USE enum mb_rc store_report_indexed(struct db *db, int64_t gen,
					    struct status_counts *c,
					    struct err *e);

/*
 * The query store_report_indexed counts with (?1 the generation): public
 * so a test can hold its plan to "never walks the contacts table".  Its
 * columns are the fields it fills, in the order listed above.
 */
extern const char store_report_indexed_sql[];

/* Every request the staging file's runs sent (0 before the first). */
MB_MUST_USE enum mb_rc store_report_requests(struct db *db,
					     int64_t *requests,
					     struct err *e);

/*
 * Every run, oldest first, as a JSON array (status.h gives its members)
 * into out, replacing what it held.
 */
MB_MUST_USE enum mb_rc store_report_runs_json(struct db *db, struct buf *out,
					      struct err *e);

/* The latest run as a JSON object into out; out empty when none. */
MB_MUST_USE enum mb_rc store_report_last_run_json(struct db *db,
						  struct buf *out,
						  struct err *e);

/*
 * The status object as one line of JSON into out (replacing it): the
 * counts c, unsubscribed_as_of (as_of; "" is null), staging_file
 * (db->path) and last_run (a JSON text; "" is null).  Arguments borrowed.
 */
MB_MUST_USE enum mb_rc store_report_status_json(struct db *db,
						const struct status_counts *c,
						const char *as_of,
						const char *last_run,
						struct buf *out,
						struct err *e);

#endif
