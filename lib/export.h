/*
 * export: write what users need from a staging file as CSV (SPEC.md,
 * "Exported CSV files"): rejects, results, suppressed.  Writing goes through
 * csvwrite (0600, formula-safe, gzip by name, atomic rename).
 */
#ifndef MB_EXPORT_H
#define MB_EXPORT_H

#include <stdint.h>

#include "db.h"
#include "err.h"

/* what: "rejects", "results" or "suppressed".  *rows: data rows written. */
enum mb_rc export_table(struct db *db, const char *what, const char *path,
			uint64_t *rows, struct err *e);

/* Write a one-column file of addresses (Meisa's unsubscribed list). */
enum mb_rc export_emails(const char *path, const char *const *emails,
			 size_t n, struct err *e);

#endif
