/*
 * store_inputs: the staging file's inputs (a row per file or zip member
 * staged, with its fingerprint and outcome) and generations (db.h), and
 * the transactions stage writes a file in.  With store_stage.h, the only
 * place stage's SQL lives.
 *
 * These statements run a few times per file, not per row, so each is
 * prepared when called and finalized before it returns: the functions take
 * the connection itself.  Strings passed in are borrowed for the call.
 * Every function fills e on failure (MB_EDB with SQLite's message,
 * MB_ELOCKED when busy); a failed step is never read as "no row".
 * Out-parameters are written only on success.
 */
#ifndef MB_STORE_INPUTS_H
#define MB_STORE_INPUTS_H

#include <stdint.h>

#include "db.h"
#include "err.h"

/* What reading a file came to, for its inputs row. */
struct store_input_end {
	const char *kind;        /* plain, gzip, zip, zip+gzip */
	const char *preset;      /* the mapping's preset, or NULL */
	char delimiter;          /* 0: none found */
	uint64_t rows_read;
	int complete;            /* read to its end without damage */
	const char *error;       /* when not complete: why */
	uint64_t size;
	const char *sha256;      /* hex */
};

/*
 * The settings of a bulk load, for the life of a stage_files call
 * (journal, sync, cache: see the comment in the .c); store_inputs_bulk_end
 * puts back WAL, which push relies on, whatever happened.
 */
MB_MUST_USE enum mb_rc store_inputs_bulk_begin(struct db *db,
					       struct err *e);
void store_inputs_bulk_end(struct db *db);

/*
 * A file's transaction: begin, then commit or roll back.  A zip member
 * (member non-zero) is a savepoint inside its archive's one transaction,
 * begun by its first member and committed by store_inputs_archive_commit
 * after its last; a rollback of a member undoes that member alone.
 */
MB_MUST_USE enum mb_rc store_inputs_begin(struct db *db, int member,
					  struct err *e);
MB_MUST_USE enum mb_rc store_inputs_commit(struct db *db, int member,
					   struct err *e);
void store_inputs_rollback(struct db *db, int member);
/* Commit the archive's transaction, if one is open. */
MB_MUST_USE enum mb_rc store_inputs_archive_commit(struct db *db,
						   struct err *e);

/*
 * Open a new generation for run_id (0: none) into *gen; enrollments that
 * failed in earlier generations are tried again in it.  In the first
 * file's transaction.
 */
MB_MUST_USE enum mb_rc store_inputs_gen_open(struct db *db, int64_t run_id,
					     int64_t *gen, struct err *e);

/* Record that path is being staged into gen by run_id: *id, its row. */
MB_MUST_USE enum mb_rc store_inputs_add(struct db *db, const char *path,
					int64_t run_id, int64_t gen,
					int64_t *id, struct err *e);
/*
 * Record input id's outcome, with its rejects and duplicates counted from
 * what was written for it.
 */
MB_MUST_USE enum mb_rc store_inputs_end(struct db *db, int64_t id,
					const struct store_input_end *end,
					struct err *e);

/* *found: an input of generation gen has this size. */
MB_MUST_USE enum mb_rc store_inputs_size_seen(struct db *db, int64_t gen,
					      uint64_t size, int *found,
					      struct err *e);
/* *found: an input of generation gen has these bytes (size, SHA-256). */
MB_MUST_USE enum mb_rc store_inputs_find(struct db *db, int64_t gen,
					 uint64_t size, const char *sha256,
					 int *found, struct err *e);

#endif
