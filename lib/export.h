/*
 * export: write what users need from a staging file as CSV (SPEC.md,
 * "Exported CSV files"): rejects, results, suppressed, missing.  Writing
 * goes through csvwrite (0600, formula-safe, gzip by name, atomic rename).
 *
 * Each is about the latest generation (db.h), like status: rejects of its
 * files; results and suppressed for its contacts; missing lists the
 * contacts of the previous generation that the latest one lacks (never
 * deleted: the API cannot delete).  results has a cleared_fields column:
 * custom fields Meisa still holds whose cell is now empty (';'-separated;
 * an upsert cannot clear them).  http_status and error are the last answer
 * for an upserted or failed contact and are empty while it is pending.
 */
#ifndef MB_EXPORT_H
#define MB_EXPORT_H

#include <stdint.h>

#include "db.h"
#include "err.h"

/*
 * what: "rejects", "results", "suppressed" or "missing" (else MB_EUSAGE).
 * *rows: data rows written.
 */
enum mb_rc export_table(struct db *db, const char *what, const char *path,
			uint64_t *rows, struct err *e);

/*
 * Write a one-column file of addresses (Meisa's unsubscribed list).
 * db_path (may be NULL) is the staging file path must not overwrite.
 */
enum mb_rc export_emails(const char *db_path, const char *path,
			 const char *const *emails, size_t n, struct err *e);

/*
 * MB_EUSAGE, nothing written, when path (followed through links) is the
 * staging file db_path, one of its -wal, -shm or -journal files (by inode,
 * or by name when it does not exist yet), or any existing SQLite database:
 * a CSV renamed over it would destroy what it holds.  export_table and
 * export_emails check this themselves.
 */
enum mb_rc export_check_output(const char *db_path, const char *path,
			       struct err *e);

#endif
