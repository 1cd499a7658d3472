/*
 * stage: read input files into the staging file, one contact per address.
 *
 * A zip archive (found by its first bytes) is read without unpacking: each
 * CSV member is a file of its own below, named "ZIP:MEMBER" (archive.h,
 * source_open_member); a zip that cannot be staged at all (no CSV in it,
 * encrypted, truncated) is refused before anything is written, like a file
 * that cannot be CSV, and its other members are listed in one warning.
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
 * of the contact already staged (unless it was sent to Meisa already).
 *
 * Generations (db.h): the files of one stage_files() call join the latest
 * generation while it is not pushed, else they open a new one.  In a new
 * generation a row of a contact staged in an earlier one REPLACES that
 * contact's body, status and external_id (it is the newer export, not a
 * duplicate); duplicates are rows of one contact within one generation.
 * Each contact's body_hash (db_body_hash of the body) is compared with the
 * hash of the last body Meisa acknowledged for it: equal means the contact
 * stays upserted (unchanged: push does not send it), else it is pending.
 * Custom fields Meisa holds (acked_fields) that the new body lacks are
 * recorded in contacts.cleared: an upsert merges custom_fields, so an
 * emptied cell cannot clear them.  A row whose external_id belongs to a
 * contact of an earlier generation that this generation has not seen
 * re-keys that contact to the row's address, as Meisa does.
 *
 * Re-runs: a file with the same bytes as one already in the open
 * generation is skipped; when the latest generation is pushed and every
 * file given is one of its files (same SHA-256), nothing is staged (the
 * same export again: a re-run, not a new night).  Otherwise, every file is
 * staged into the new generation, including one identical to a file of an
 * earlier night (a night's picture needs all its files).
 */
#ifndef MB_STAGE_H
#define MB_STAGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"
#include "mapping.h"

struct stage_opts {
	struct mapping_opts map;
	char delimiter;          /* 0: detect */
	const char *encoding;    /* --encoding (source.h); NULL: UTF-8 */
	const char *source;      /* "import" or "initial_sync" */
	int64_t run_id;          /* the run staging (inputs.run_id); 0: none */
	/*
	 * Messages about one file that do not stop the run (cmd/ prints):
	 * refused is 1 for a file or zip member refused as a whole (zip of no
	 * CSV, UTF-16, binary, empty, no email column, corrupt before any
	 * row, and damage after some rows: an error the user must see even
	 * with -q), 0 for a warning (staged before, members ignored).
	 */
	void (*warn)(void *ctx, int refused, const char *msg);
	void *warn_ctx;
	/*
	 * When *stop becomes non-zero (a signal handler sets it), staging
	 * stops within about 100 ms (between batches of rows, and while a
	 * pipe waits for its writer): the file being staged is rolled back
	 * as after a crash, the files before it stay, and stage_files returns
	 * MB_ESTOPPED saying so.  NULL: never stop.
	 */
	const volatile sig_atomic_t *stop;
	/*
	 * A first stage into an empty staging file loads the rows and builds
	 * the unique indexes once at the end (store_stage_bulk_begin) only
	 * for a file whose estimated plain size reaches this many bytes: the
	 * build at the end costs about 0.4 s a million rows, which pays only
	 * once a row-by-row insert into the indexes grows slow, from about 2
	 * million rows.  Estimated plain size: a regular file's size, times 4.5 for
	 * gzip (a Mailchimp-style export packs 4.6 to 1), a zip member's
	 * declared size; a pipe is not sized (row by row).  0: the default,
	 * STAGE_BULK_MIN_BYTES; 1: any file (the tests force the path so).
	 */
	uint64_t bulk_min_bytes;
};

/*
 * 160 MiB of plain CSV, about 1.9 million Mailchimp-style rows (89 bytes
 * a row), measured with the release build on 2026-12-02: at 1 million
 * rows (89 MB plain, 19.5 MB gzip) loading first cost 0.45 s (2.4 s
 * against 1.95 s), at 3 million (272 MB plain, 58 MB gzip) it saved
 * 0.4 s (8.5 s against 8.9 s); the two cross near 2 million.
 */
#define STAGE_BULK_MIN_BYTES ((uint64_t)160 << 20)

struct stage_counts {
	uint64_t files_staged;
	uint64_t files_skipped;  /* already staged (same SHA-256) */
	uint64_t files_failed;   /* refused as a whole */
	uint64_t files_incomplete; /* staged up to damage (inputs.complete 0) */
	uint64_t rows_read;
	uint64_t rejected;
	uint64_t duplicates;
	uint64_t contacts_new;     /* contacts first staged now */
	uint64_t contacts_updated; /* of an earlier generation, replaced */
	int64_t generation;        /* what the files joined; 0: none staged */
	int new_generation;        /* 1 when this call opened it */
};

/*
 * Stage every path.  Files that cannot be opened are found before anything
 * is written (MB_ENOINPUT).  A file refused as a whole (no email column, not
 * CSV) is reported through opts->warn and the others are still staged; the
 * result is then MB_EDATA.  A damaged input (truncated gzip, damaged zip
 * member, CSV ending inside a quote) keeps the rows read before the damage,
 * is recorded incomplete (inputs.complete 0, inputs.error) and counted in
 * files_incomplete, and makes the result MB_EDATA too (reported as an
 * error through opts->warn).  MB_EDATA also when no row at all was usable.
 */
enum mb_rc stage_files(struct db *db, const struct stage_opts *opts,
		       const char *const *paths, size_t npaths,
		       struct stage_counts *counts, struct err *e);

/* Append the canonical body of rec (source given) to out. */
enum mb_rc stage_body(const struct record *rec, const char *source,
		      struct buf *out);

#endif
