/*
 * store_stage: the staging file's contacts, rejects and duplicates, as
 * stage writes them.  The only place their SQL lives (with the inputs and
 * generations of store_inputs.h and the schema of db.h).
 *
 * stage decides (which statement to try first, merge or conflict or
 * re-key, the counts); this module reads and writes.  Open one struct
 * store_stage per file staged, inside that file's transaction (every
 * function here expects it: none begins or commits one), after the file's
 * inputs row exists; close it when the file is done.  Its statements are
 * prepared once, at open, so the hot path only binds and steps: one
 * statement per row, as before the store existed.
 *
 * Strings passed in are borrowed for the call.  Every function fills e on
 * failure (MB_EDB with SQLite's message, MB_ELOCKED when busy); a failed
 * step is never read as "no row".  The members of struct store_stage are
 * the store's: callers only pass it.
 */
#ifndef MB_STORE_STAGE_H
#define MB_STORE_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

/*
 * Rows per INSERT statement on a first generation.  SQLite's cost per
 * statement (opening and closing a cursor on the table and each index) was
 * 40% of the writer's time with one row per statement; 16 or more rows per
 * statement remove it (measured: 2.54 s -> 1.50 s of CPU per million rows).
 */
#define STORE_STAGE_MULTI 32

/* One row to write as a contact (all borrowed; NULL: none). */
struct store_contact {
	const char *email;
	size_t email_len;
	const char *ext;         /* external_id */
	size_t ext_len;
	const char *body;        /* the canonical body (stage_body) */
	size_t body_len;
	const char *suppress;    /* source status (skipped), or NULL */
	int unconfirmed;
	int has_tags;            /* the body has tag_names */
	unsigned long line;      /* physical line in the input */
	int64_t hash;            /* db_body_hash of body (when hashing) */
	int64_t id;              /* store_stage_insert: this id (0: next) */
};

/*
 * A contact store_stage_find met: the one holding the address (by_email)
 * or the one holding the external_id.  Valid during the callback only.
 */
struct store_stage_match {
	int by_email;
	int64_t id;
	const char *other;       /* by_email: its external_id; else its email */
	int64_t gen;
	int64_t line;            /* where it was last staged */
	int64_t input_id;
	const char *path;        /* that input's path, or NULL */
};

/*
 * The contact store_stage_lookup found holding an address, as stored: what
 * stage compares a row with to tell an unchanged contact (left alone) from
 * a changed one (rewritten).  Strings are copied (ext_fits: the external_id
 * fitted in ext; one longer is compared as changed).
 */
struct store_stage_held {
	int64_t id;
	int has_ext, ext_fits;
	char ext[256];
	int has_body_hash;
	int64_t body_hash;
	int has_status;
	char status[64];         /* source_status */
	int unconfirmed;
	char state[16];
	int has_acked_hash;
	int64_t acked_hash;
	int no_acked_fields;     /* acked_fields IS NULL */
	int vanished;            /* not in the latest generation */
	int written;             /* written by this generation already */
};

struct store_stage {
	struct db *db;
	int64_t input_id;
	int64_t gen;
	int hashing;
	struct sqlite3_stmt *ins_contact, *ins_multi, *was_inserted;
	struct sqlite3_stmt *upd_same_id, *upd_contact, *rekey;
	struct sqlite3_stmt *ins_reject, *ins_dup, *find, *merge;
	struct sqlite3_stmt *mark_conflict, *note_conflict;
	struct sqlite3_stmt *lookup, *ins_seen, *was_seen, *see_same;
};

/*
 * SQL expression rebuilding contacts.body canonically (for merged rows):
 * the same bytes as stage_body gives (tested).
 */
extern const char store_stage_canonical_sql[];

#define STORE_STAGE_INIT { NULL, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, \
			   NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
			   NULL, NULL, NULL, NULL }

/*
 * Prepare the statements writing input input_id's rows into generation
 * gen on db (borrowed: it must outlive ss).  hashing: rows carry their
 * body hash (else contacts.body_hash stays NULL, for push to take).  On
 * failure ss holds nothing; store_stage_close is still safe.
 */
MB_MUST_USE enum mb_rc store_stage_open(struct store_stage *ss,
					struct db *db, int64_t gen,
					int64_t input_id, int hashing,
					struct err *e);
/* Finalize every statement; NULL-safe, idempotent. */
void store_stage_close(struct store_stage *ss);

/*
 * Write c as a new contact (INSERT OR IGNORE): *changed is 0 when the
 * address or external_id is taken (the caller decides: store_stage_find).
 */
MB_MUST_USE enum mb_rc store_stage_insert(struct store_stage *ss,
					  const struct store_contact *c,
					  int *changed, struct err *e);
/*
 * The contact holding address email, into *h (*found: there is one).  A
 * contact this generation wrote (h->written), or met unchanged already
 * (store_stage_see, store_stage_was_seen), is a duplicate of the row being
 * staged.
 */
MB_MUST_USE enum mb_rc store_stage_lookup(struct store_stage *ss,
					  const char *email,
					  size_t email_len, int *found,
					  struct store_stage_held *h,
					  struct err *e);
/*
 * Contact id, of an earlier generation, is unchanged by row c: record that
 * this generation saw it at c's line, without writing the contact.
 * *fresh: 0 when this generation had seen it already (nothing written:
 * row c is a duplicate).
 */
MB_MUST_USE enum mb_rc store_stage_see(struct store_stage *ss,
				       const struct store_contact *c,
				       int64_t id, int *fresh,
				       struct err *e);
/*
 * The likely case of a night, in one statement: row c leaves the contact
 * holding its address as it is, and this generation had not seen it.
 * *seen: so it was, and it is now recorded as seen at c's line.  0: any
 * other case (store_stage_lookup tells which).  Needs hashing.
 */
MB_MUST_USE enum mb_rc store_stage_see_same(struct store_stage *ss,
					    const struct store_contact *c,
					    int *seen, struct err *e);
/* *seen: this generation met contact id unchanged already. */
MB_MUST_USE enum mb_rc store_stage_was_seen(struct store_stage *ss,
					    int64_t id, int *seen,
					    struct err *e);
/*
 * c replaces contact id, of an earlier generation and not seen in this
 * one (store_stage_lookup): same_id, only if that contact has c's
 * external_id (the likely case, which leaves the external_id index alone);
 * else setting it.  *changed: a row was written (0: c's external_id is
 * another contact's).
 */
MB_MUST_USE enum mb_rc store_stage_update(struct store_stage *ss,
					  const struct store_contact *c,
					  int64_t id, int same_id,
					  int *changed, struct err *e);
/* c replaces contact id of an earlier generation, address included. */
MB_MUST_USE enum mb_rc store_stage_rekey(struct store_stage *ss,
					 const struct store_contact *c,
					 int64_t id, int *changed,
					 struct err *e);
/*
 * STORE_STAGE_MULTI rows c[0..] as new contacts in one statement (prepared
 * at the first call); *changed: how many went in.
 */
MB_MUST_USE enum mb_rc store_stage_insert_many(struct store_stage *ss,
					       const struct store_contact *c,
					       int *changed, struct err *e);
/*
 * *went_in: c is a contact from this input and line.  Only after a
 * store_stage_insert_many (which prepares it): MB_EINTERNAL before.
 */
MB_MUST_USE enum mb_rc store_stage_went_in(struct store_stage *ss,
					   const struct store_contact *c,
					   int *went_in, struct err *e);
/* Record a reject (line, email, reason code, detail: NULL allowed). */
MB_MUST_USE enum mb_rc store_stage_reject(struct store_stage *ss,
					  unsigned long line,
					  const char *email,
					  const char *reason,
					  const char *detail, struct err *e);
/*
 * Merge c into contact id (a duplicate within the generation: later
 * non-empty values win, tags are a union) and record c as its duplicate.
 * The merged body is made canonical by store_stage_rebuild_merged.
 */
MB_MUST_USE enum mb_rc store_stage_merge(struct store_stage *ss, int64_t id,
					 const struct store_contact *c,
					 struct err *e);
/*
 * Mark contact id as conflicting, detail naming the row that conflicts
 * (the first detail given for a contact is kept): rejected by
 * store_stage_reject_conflicts.
 */
MB_MUST_USE enum mb_rc store_stage_mark_conflict(struct store_stage *ss,
						 int64_t id,
						 const char *detail,
						 struct err *e);
/*
 * Call fn(ctx, m) for each contact holding email or (when not NULL) ext:
 * at most one of each kind.
 */
typedef void store_stage_match_fn(void *ctx,
				  const struct store_stage_match *m);
MB_MUST_USE enum mb_rc store_stage_find(struct store_stage *ss,
					const char *email, const char *ext,
					store_stage_match_fn *fn, void *ctx,
					struct err *e);
/*
 * At the end of a file: reject the conflicting contacts of the latest
 * generation never sent (and their duplicates' rows), clear the marks.
 * *rejected: contacts rejected; *moved: duplicate rows turned into rejects.
 */
MB_MUST_USE enum mb_rc store_stage_reject_conflicts(struct store_stage *ss,
						    int64_t *rejected,
						    int64_t *moved,
						    struct err *e);
/*
 * At the end of a stage run into generation gen (> 1), in a transaction:
 * the contacts of the previous generation that gen has not seen become
 * vanished, with where they were last seen; seen rows older than the
 * previous generation are dropped.  *vanished: contacts marked.  A later
 * run into the same generation may see them again (they are rewritten).
 */
MB_MUST_USE enum mb_rc store_stage_vanish(struct db *db, int64_t gen,
					  int64_t *vanished, struct err *e);
/*
 * Staging into an empty contacts table loads first and indexes once: when
 * the table is empty, drop the unique indexes on email and external_id
 * (*bulk = 1; else nothing is done, *bulk = 0).  Rows then go in with
 * store_stage_insert_many or store_stage_insert alone, which take every
 * row (nothing to collide with): no lookup, no update, no slow path until
 * store_stage_bulk_end.
 */
MB_MUST_USE enum mb_rc store_stage_bulk_begin(struct store_stage *ss,
					      int *bulk, struct err *e);
/*
 * At the end of the file, before store_stage_reject_conflicts: build the
 * unique indexes.  Rows sharing an address or an external_id with another
 * row (*colliding of them) are first taken out and then handed to fn, in
 * file order, each with its id, to be staged one by one as usual (the
 * caller's counts had them as new contacts).  A failure of fn stops and
 * is returned.
 */
typedef enum mb_rc (store_stage_replay_fn)(void *ctx,
					   const struct store_contact *c,
					   struct err *e);
MB_MUST_USE enum mb_rc store_stage_bulk_end(struct store_stage *ss,
					    int64_t *colliding,
					    store_stage_replay_fn *fn,
					    void *ctx, struct err *e);
/* Give merged contacts their canonical body, hash, state and cleared. */
MB_MUST_USE enum mb_rc store_stage_rebuild_merged(struct store_stage *ss,
						  struct err *e);

#endif
