/*
 * stage: read input files into the staging file, one contact per address.
 *
 * For each file: fingerprint it (size, SHA-256 of its bytes), skip it when a
 * file with the same fingerprint was staged before (staging is idempotent),
 * otherwise stream it through source -> csvread -> mapping and write, inside
 * one transaction per file, every accepted row as a contact (merged into an
 * earlier contact with the same address: non-empty values win, tags are
 * unioned; the row counts as a duplicate) and every refused row as a reject
 * with its physical line and reason.  A crash mid-file commits nothing of
 * that file, so staging it again is always right.
 *
 * The JSON body push will send is built here, once, in canonical form: keys
 * in a fixed order (email, external_id, first_name, last_name, display_name,
 * source, custom_fields, tag_names), custom fields sorted by key, tags in
 * first-seen order, empty values omitted.  Plain rows build it in C from the
 * mapping's canonical parts (the hot path); merged contacts are merged with
 * SQLite's json_patch and rebuilt canonically with SQLite's JSON functions at
 * the end of the file.  Both give byte-identical output (tested).
 *
 * external_id conflicts: one external_id with two addresses, or one address
 * with two external_ids, would make Meisa rename a contact.  Every row
 * involved is rejected with reason external_id_conflict, including the rows
 * of the contact already staged.
 */
#ifndef MB_STAGE_H
#define MB_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "mapping.h"

struct stage_opts {
	struct mapping_opts map;
	char delimiter;          /* 0: detect */
	const char *source;      /* "import" or "initial_sync" */
	/* Warnings about one file that do not stop the run (cmd/ prints). */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

struct stage_counts {
	uint64_t files_staged;
	uint64_t files_skipped;  /* already staged (same SHA-256) */
	uint64_t files_failed;   /* refused as a whole */
	uint64_t rows_read;
	uint64_t rejected;
	uint64_t duplicates;
	uint64_t contacts_new;
};

/*
 * Stage every path.  Files that cannot be opened are found before anything
 * is written (MB_ENOINPUT).  A file refused as a whole (no email column, not
 * CSV) is reported through opts->warn and the others are still staged; the
 * result is then MB_EDATA.  A damaged gzip keeps the rows read before the
 * damage (warned).  MB_EDATA also when no row at all was usable.
 */
enum mb_rc stage_files(struct db *db, const struct stage_opts *opts,
		       const char *const *paths, size_t npaths,
		       struct stage_counts *counts, struct err *e);

/* Append the canonical body of rec (source given) to out. */
enum mb_rc stage_body(const struct record *rec, const char *source,
		      struct buf *out);

/* SQL expression rebuilding contacts.body canonically (for merged rows). */
extern const char stage_canonical_sql[];

#endif
