/*
 * status: the counts and progress of a staging file (SPEC.md, status --json).
 *
 * Counts are derived from the tables, never kept as running totals, so they
 * reconcile by construction: every data row read is exactly one reject, one
 * duplicate or the first row of one contact, and every contact is in exactly
 * one state.
 *   rows_read = rejected + duplicates + contacts
 *   contacts  = upserted + failed + pending + skipped   (sent counts pending)
 */
#ifndef MB_STATUS_H
#define MB_STATUS_H

#include <stdint.h>

#include "buf.h"
#include "db.h"

struct status_counts {
	int64_t rows_read, rejected, duplicates, contacts;
	int64_t suppressed, skipped, upserted, failed, pending;
	int64_t enrolled, requests, unconfirmed, meisa_unsubscribed;
	int64_t chunks, chunks_acknowledged;
};

enum mb_rc status_load(struct db *db, struct status_counts *c,
		       struct err *e);

/* The status object as one line of JSON (built by SQLite) into out. */
enum mb_rc status_json(struct db *db, struct buf *out, struct err *e);

#endif
