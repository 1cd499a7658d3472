/*
 * store_outbox: the contacts of the latest generation as push's outbox
 * (store layer).
 *
 * Owns what push reads and writes of contacts and generations for the
 * upserts: the plan's counts, the marks a run puts on its generation
 * (pushed, a --full pass begun or done, failed contacts put back), the
 * cursor over the contacts still to send, the answers recorded for them,
 * and the counts a run ends with.  Every statement is about the latest
 * generation (STORE_CURRENT_GEN, or a gen the caller read with
 * store_outbox_generation): contacts of earlier generations that the
 * latest one lacks are left alone.  push.c decides what to send and when
 * to commit; this file only reads and writes.
 *
 *   struct store_outbox o = STORE_OUTBOX_INIT;
 *   struct store_contact c = STORE_CONTACT_INIT;
 *   rc = store_outbox_open(&o, db, &e);
 *   while (rc == MB_OK && (rc = store_outbox_next(&o, c.id, gen, &c,
 *          &e)) == MB_OK && !c.done)
 *           ... send c.body ...; store_outbox_upserted(&o, ...) ...
 *   store_outbox_close(&o);
 *   store_contact_release(&c);
 *
 * Errors: MB_OK or e filled via db_fail (MB_EDB, or MB_ELOCKED when
 * SQLite is busy) naming the staging file and SQLite's message; a failed
 * step is an error, never "no row".  Out-parameters are written only on
 * success.  Writes expect the caller's transaction unless they say
 * otherwise; reads need none.  The db is borrowed throughout.
 */
#ifndef MB_STORE_OUTBOX_H
#define MB_STORE_OUTBOX_H

#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "err.h"

/* The latest generation, in SQL (0 when nothing was staged). */
#define STORE_CURRENT_GEN "(SELECT coalesce(max(id), 0) FROM generations)"

/* The latest generation (0: nothing staged yet) into *gen. */
MB_MUST_USE enum mb_rc store_outbox_generation(struct db *db, int64_t *gen,
					       struct err *e);

/* The plan's counts of generation gen, in one pass over it. */
struct store_plan_counts {
	int64_t pending;         /* pending or sent: to upsert */
	int64_t full_again;      /* sent again by --full (full set) */
	int64_t unchanged;       /* acknowledged already (full unset) */
	int64_t skipped;
	int64_t suppressed;      /* at the source or on Meisa's list */
	int64_t meisa_unsubscribed;
	int64_t failed;          /* failed and not sent again by --full */
};

MB_MUST_USE enum mb_rc store_outbox_plan(struct db *db, int64_t gen,
					 int full,
					 struct store_plan_counts *c,
					 struct err *e);

/*
 * Consent by default.  The unconfirmed contacts a run decides on: flagged
 * unconfirmed, not do-not-email at the source, never acknowledged by
 * Meisa (so the first upsert would create them and fire contact_created),
 * and pending, sent or skipped, or failed and sent again by --full or
 * --retry-failed.  A run without --include-unconfirmed skips
 * them (state skipped, reason unconfirmed); one with it sends them.  Those
 * Meisa holds already (an earlier --include-unconfirmed created them) are
 * updated like any contact; a later generation where the source confirms
 * them clears the flag, and staging makes them pending.
 */
struct store_unconfirmed {
	int64_t pending;         /* pending or sent: a default run skips */
	int64_t skipped;         /* --include-unconfirmed sends these */
	int64_t pending_enrollable;      /* of pending, enrollable now */
	int64_t skipped_enrollable;      /* of skipped, once upserted */
	int64_t failed_full;     /* failed, sent again by full: skipped */
	int64_t failed_retry;    /* failed, by retry_failed only: skipped */
};

/*
 * Those counts of generation gen (through contacts_unconfirmed), with
 * full and retry_failed as store_outbox_begin_run will be given them.
 */
MB_MUST_USE enum mb_rc store_outbox_unconfirmed(struct db *db, int64_t gen,
						int full, int retry_failed,
						struct store_unconfirmed *c,
						struct err *e);

/*
 * The start mark, in the caller's transaction, after
 * store_outbox_begin_run (so that what it put back is decided on too): the
 * unconfirmed contacts above become skipped, or pending with include.
 */
MB_MUST_USE enum mb_rc store_outbox_decide_unconfirmed(struct db *db,
						       int include,
						       struct err *e);

/* Contacts of the latest generation still to upsert (pending or sent). */
MB_MUST_USE enum mb_rc store_outbox_pending(struct db *db, int64_t *n,
					    struct err *e);

/*
 * The marks of a run's start, in the caller's transaction: the latest
 * generation is pushed from now on (the next staged file opens a new
 * one); with full, the contacts --full sends again are put back to
 * pending and the generation remembers when the pass began; with
 * retry_failed, its failed contacts are put back to pending.
 */
MB_MUST_USE enum mb_rc store_outbox_begin_run(struct db *db, int full,
					      int retry_failed,
					      struct err *e);

/* Nothing left to send: the next --full starts a new pass (no tx needed). */
MB_MUST_USE enum mb_rc store_outbox_full_done(struct db *db, struct err *e);

/* What a run ends with, of the latest generation. */
struct store_outcomes {
	int64_t failed;          /* contacts failed at the API */
	int64_t enroll_refused;  /* enroll_status 'failed' */
	int64_t enroll_unknown;  /* not STATUS_ENROLL_KNOWN (store_report.h) */
};

MB_MUST_USE enum mb_rc store_outbox_outcomes(struct db *db,
					     struct store_outcomes *o,
					     struct err *e);

/* The upsert statements, prepared once: they run for every contact. */
struct store_outbox {
	struct db *db;           /* borrowed */
	sqlite3_stmt *next;
	sqlite3_stmt *ok;
	sqlite3_stmt *fail;
};

#define STORE_OUTBOX_INIT { NULL, NULL, NULL, NULL }

/* A contact to upsert: its id and the body to send (a copy it owns). */
struct store_contact {
	int done;                /* 1: none left, the rest is unset */
	int64_t id;
	struct buf body;
};

#define STORE_CONTACT_INIT { 0, 0, BUF_INIT }

void store_contact_release(struct store_contact *c);

/* Prepare; store_outbox_close is needed whatever it returns. */
MB_MUST_USE enum mb_rc store_outbox_open(struct store_outbox *o,
					 struct db *db, struct err *e);

/* Free the statements; NULL-safe, safe on STORE_OUTBOX_INIT, leaves it so. */
void store_outbox_close(struct store_outbox *o);

/*
 * The first contact of generation gen after id after_id still to upsert
 * into c (c->done = 1 when there is none).  No statement stays open.
 */
MB_MUST_USE enum mb_rc store_outbox_next(struct store_outbox *o,
					 int64_t after_id, int64_t gen,
					 struct store_contact *c,
					 struct err *e);

/*
 * Contact id was upserted: HTTP status, attempts more tries, Meisa's
 * answer (answer[0..len), borrowed; its "id" becomes meisa_id when it is
 * JSON) and what was acknowledged (push.h).
 */
MB_MUST_USE enum mb_rc store_outbox_upserted(struct store_outbox *o,
					     int64_t id, long status,
					     unsigned attempts,
					     const char *answer, size_t len,
					     struct err *e);

/* Contact id failed for good: HTTP status, attempts more, error text. */
MB_MUST_USE enum mb_rc store_outbox_failed(struct store_outbox *o,
					   int64_t id, long status,
					   unsigned attempts,
					   const char *error, struct err *e);

#endif
