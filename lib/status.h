/*
 * status: the counts and progress of a staging file (SPEC.md, status --json).
 *
 * The counts are those of the latest generation (db.h): the files staged
 * since the last push, i.e. the latest nightly dump or the one migration
 * being imported.  They are derived from the tables, never kept as running
 * totals, so they reconcile by construction: every data row of the
 * generation's files is exactly one reject, one duplicate (a later row of a
 * contact within the generation) or the first row of one contact, and every
 * contact is in exactly one state.
 *   rows_read = rejected + duplicates + contacts
 *   contacts  = upserted + failed + pending + skipped   (sent counts pending)
 * A row that replaces a contact staged in an earlier generation is that
 * contact's first row in this one, not a duplicate.  upserted includes the
 * unchanged contacts: acknowledged by Meisa in an earlier generation with
 * the body they have now, so not sent again.  Contacts of the previous
 * generation absent from this one are counted as missing (and are not in
 * contacts); requests counts every run of the staging file.  A generation
 * with an incomplete input (read only up to damage: guard.h) counts no
 * contact missing, and its status object says why in
 * missing_unknown_reason.
 */
#ifndef MB_STATUS_H
#define MB_STATUS_H

#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "store_report.h"

/* STATUS_ENROLL_KNOWN and struct status_counts: store_report.h. */

/*
 * The counts of the latest generation into *c (all of it written): one
 * pass over its contacts and the previous generation's, the rest from
 * indexes (store_report.h).  Errors are the store's (MB_EDB, MB_ELOCKED).
 */
enum mb_rc status_load(struct db *db, struct status_counts *c,
		       struct err *e);

/*
 * The status object as one line of JSON (built by SQLite) into out: the
 * counts (cleared_fields as cleared_fields_not_sent, enroll_unknown),
 * unsubscribed_as_of, staging_file and last_run (the latest run, as in
 * status_runs_json, or null).  status_json_of uses counts c loaded
 * already (loading them scans the contacts: a caller that needs them twice
 * loads them once).
 */
enum mb_rc status_json(struct db *db, struct buf *out, struct err *e);
enum mb_rc status_json_of(struct db *db, const struct status_counts *c,
			  struct buf *out, struct err *e);

/*
 * Every run, oldest first, as a JSON array of {id, kind, started_at,
 * ended_at, args, exit_status, summary, inputs: [{path, size, sha256,
 * generation, rows_read, complete}]} into out.
 */
enum mb_rc status_runs_json(struct db *db, struct buf *out, struct err *e);

#endif
