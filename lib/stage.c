/*
 * stage: inputs -> contacts, rejects and duplicates in the staging file.
 *
 * This file is the writer and the driver: for each input (stage_inputs.h)
 * it starts the reader thread (stage_reader.h), which hands finished rows
 * over through a bounded queue (stage_queue.h), and writes them through
 * the store (store_stage.h, store_inputs.h): this file decides, the store
 * holds the SQL.
 *
 * The hot path per row is: mapping_apply, stage_body, db_body_hash (in the
 * reader thread), then one INSERT for a new address or one UPDATE for an
 * address of an earlier generation (the nightly case).  Whichever worked for
 * the previous row is tried first, so a first night costs one statement a
 * row and so does a second night; a miss costs one index probe.  When
 * neither writes (a duplicate within the generation, an external_id held
 * by another contact) the slow path looks the contact up and merges in SQL.
 */
#include "stage.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "source.h"
#include "stage_inputs.h"
#include "stage_queue.h"
#include "stage_reader.h"
#include "store_inputs.h"
#include "store_stage.h"
#include "xalloc.h"

/* Rows per transaction are unlimited: one transaction per file. */

/* What the writer (calling thread) owns. */
struct stager {
	struct db *db;
	struct store_stage store; /* the file's statements */
	const char *path;
	int64_t input_id;
	int64_t gen;             /* the generation being staged */
	int prefer_update;       /* the previous row was an UPDATE */
	int hashing;             /* rows carry their body hash */
	int bulk;                /* loading first, indexing at the end */
	int multi;               /* first generation: multi-row INSERTs */
	uint64_t usable;         /* rows that became or joined a contact */
	uint64_t inserted;       /* new contacts */
	uint64_t updated;        /* contacts of an earlier generation */
	uint64_t merged;         /* duplicates merged (canonical rebuild due) */
	uint64_t rejected;
	uint64_t conflicts;      /* contacts marked as conflicting */
};

static const char *at(const struct batch *b, size_t off)
{
	return off ? b->arena.data + off : NULL;
}

/* Row r of batch b as the store takes it (borrowing b's arena). */
static void contact_of(const struct batch *b, const struct staged *r,
		       struct store_contact *c)
{
	c->email = at(b, r->email);
	c->email_len = r->email_len;
	c->ext = at(b, r->ext);
	c->ext_len = r->ext_len;
	c->body = at(b, r->body);
	c->body_len = r->body_len;
	c->suppress = r->suppress;
	c->unconfirmed = r->unconfirmed;
	c->has_tags = r->has_tags;
	c->line = r->line;
	c->hash = r->hash;
	c->id = 0;
}

static int stop_requested(const struct stage_opts *opts)
{
	return opts->stop && *opts->stop;
}

static enum mb_rc add_reject(struct stager *st, unsigned long line,
			     const char *email, const char *reason,
			     const char *detail, struct err *e)
{
	st->rejected++;
	return store_stage_reject(&st->store, line, email, reason, detail, e);
}

/*
 * Contact id is in a conflict: it will be rejected when the file ends
 * (finish_file), with detail (the row that conflicts with it) as reason.
 */
static enum mb_rc mark_conflict(struct stager *st, int64_t id,
				const char *detail, struct err *e)
{
	st->conflicts++;
	return store_stage_mark_conflict(&st->store, id, detail, e);
}

static enum mb_rc merge_row(struct stager *st, const struct store_contact *c,
			    int64_t id, struct err *e)
{
	enum mb_rc rc = store_stage_merge(&st->store, id, c, e);

	if (rc == MB_OK) {
		st->usable++;
		st->merged++;
	}
	return rc;
}

/*
 * The external_id of row c belongs to contact id, staged in an earlier
 * generation and not seen in this one, and c's address is new: the user
 * changed address.  Meisa matches external_id first and re-keys its contact
 * to the new address, so the staged contact follows.
 */
static enum mb_rc rekey(struct stager *st, const struct store_contact *c,
			int64_t id, struct err *e)
{
	enum mb_rc rc;
	int changed = 0;

	rc = store_stage_rekey(&st->store, c, id, &changed, e);
	if (rc == MB_OK && !changed)
		rc = err_set(e, MB_EINTERNAL, "'%s' line %lu: cannot re-key"
			     " contact %lld", st->path, c->line, (long long)id);
	if (rc == MB_OK) {
		st->usable++;
		st->updated++;
	}
	return rc;
}

/*
 * Where a row is, for a conflict's detail: "line 7", and " of FILE" when
 * the other row of the conflict is in another file (the reject's own file
 * is in the export's source column already).
 */
static void where(char *out, size_t cap, long long line, const char *path,
		  int same_file)
{
	if (same_file)
		snprintf(out, cap, "line %lld", line);
	else
		snprintf(out, cap, "line %lld of %.200s", line,
			 path ? path : "an earlier file");
}

/* What the slow path learns of the contacts holding a row's keys. */
struct holders {
	const struct stager *st;
	const struct store_contact *c;
	int64_t email_id, ext_id, email_gen, ext_gen;
	int conflict;
	char other[1024], mine_email[1024], mine_ext[1024];
};

static void on_holder(void *ctx, const struct store_stage_match *m)
{
	struct holders *h = ctx;
	const char *email = h->c->email, *ext = h->c->ext, *val = m->other;
	int same = m->input_id == h->st->input_id;
	char there[256], here[256];

	where(there, sizeof(there), m->line, m->path, same);
	where(here, sizeof(here), (long long)h->c->line, h->st->path, same);
	if (m->by_email) {
		h->email_id = m->id;
		h->email_gen = m->gen;
		if (ext && val && strcmp(ext, val) != 0) {
			h->conflict = 1;
			snprintf(h->other, sizeof(h->other), "address"
				 " already staged with external_id"
				 " '%.200s' (%s)", val, there);
			snprintf(h->mine_email, sizeof(h->mine_email),
				 "%s gives this address external_id"
				 " '%.200s'", here, ext);
		}
	} else {
		h->ext_id = m->id;
		h->ext_gen = m->gen;
		if (h->ext_id != h->email_id)
			snprintf(h->other, sizeof(h->other), "external_id"
				 " '%.200s' already staged for"
				 " %.200s (%s)", ext, val ? val : "?",
				 there);
		snprintf(h->mine_ext, sizeof(h->mine_ext), "%s gives"
			 " external_id '%.200s' to %.200s", here,
			 ext, email);
	}
}

/*
 * Neither the INSERT nor the UPDATE wrote: the address is staged already in
 * this generation (merge), or the external_id belongs to another contact,
 * or the address carries another external_id (conflict: reject this row,
 * mark the contacts for rejection), or the external_id's contact changed
 * address (re-key).
 */
static enum mb_rc slow_path(struct stager *st, const struct store_contact *c,
			    struct err *e)
{
	struct holders h;
	enum mb_rc rc;

	memset(&h, 0, sizeof(h));
	h.st = st;
	h.c = c;
	rc = store_stage_find(&st->store, c->email, c->ext, on_holder, &h, e);
	if (rc != MB_OK)
		return rc;
	if (h.ext_id && !h.email_id && h.ext_gen < st->gen)
		return rekey(st, c, h.ext_id, e);
	if (h.ext_id && h.ext_id != h.email_id) {
		h.conflict = 1;
		rc = mark_conflict(st, h.ext_id, h.mine_ext, e);
	}
	if (rc == MB_OK && h.conflict && h.email_id)
		rc = mark_conflict(st, h.email_id, h.mine_email[0] ?
				   h.mine_email : h.mine_ext, e);
	if (rc != MB_OK)
		return rc;
	if (h.conflict)
		return add_reject(st, c->line, c->email,
				  "external_id_conflict", h.other, e);
	if (!h.email_id || h.email_gen != st->gen)
		return db_fail(st->db, "cannot insert contact into", e);
	return merge_row(st, c, h.email_id, e);
}

/* Two optional strings, the first of known length, are the same. */
static int same_text(const char *a, size_t alen, int has_b, const char *b)
{
	if (!a || !has_b)
		return !a && !has_b;
	return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

/*
 * Row c would leave contact h as it is (what store_stage_update would
 * write, compared): same canonical body, flags, external_id and so the
 * same state and cleared fields.  Only where it was seen would change.
 */
static int unchanged(const struct store_contact *c,
		     const struct store_stage_held *h)
{
	int acked = h->has_acked_hash && h->acked_hash == c->hash;
	const char *state = c->suppress ? "skipped" :
		acked ? "upserted" : "pending";

	return !h->vanished && h->has_body_hash && h->body_hash == c->hash &&
	       h->ext_fits && same_text(c->ext, c->ext_len, h->has_ext,
					h->ext) &&
	       same_text(c->suppress, c->suppress ? strlen(c->suppress) : 0,
			 h->has_status, h->status) &&
	       (c->unconfirmed != 0) == (h->unconfirmed != 0) &&
	       strcmp(h->state, state) == 0 &&
	       (acked || h->no_acked_fields);
}

/* What write_existing did with a row. */
enum existing { ABSENT, WRITTEN, SLOW };

/*
 * Row c's address belongs to a contact of an earlier generation: leave it
 * alone when c changes nothing (recording that this generation saw it),
 * else rewrite it.  A contact seen in this generation already, or an
 * external_id another contact holds, is for the slow path.
 */
static enum mb_rc write_existing(struct stager *st,
				 const struct store_contact *c,
				 enum existing *out, struct err *e)
{
	struct store_stage_held h;
	int found = 0, changed = 0, fresh = 0, seen = 0, same_id;
	enum mb_rc rc;

	rc = store_stage_lookup(&st->store, c->email, c->email_len, &found,
				&h, e);
	if (rc != MB_OK || !found) {
		*out = ABSENT;
		return rc;
	}
	*out = SLOW;
	if (h.written)
		return MB_OK;
	/* Seen already: a duplicate; the check is the write, or a probe. */
	if (st->hashing && unchanged(c, &h)) {
		rc = store_stage_see(&st->store, c, h.id, &fresh, e);
		if (fresh)
			*out = WRITTEN;
		return rc;
	}
	rc = store_stage_was_seen(&st->store, h.id, &seen, e);
	if (rc != MB_OK || seen)
		return rc;
	same_id = h.ext_fits && same_text(c->ext, c->ext_len, h.has_ext,
					  h.ext);
	rc = store_stage_update(&st->store, c, h.id, same_id, &changed, e);
	*out = changed ? WRITTEN : SLOW;
	return rc;
}

/*
 * Write row c: an INSERT for a new address, a comparison (and maybe an
 * UPDATE) for an address of an earlier generation; the likeliest first,
 * by what the previous row was.
 */
static enum mb_rc insert_row(struct stager *st, const struct store_contact *c,
			     struct err *e)
{
	enum existing how = ABSENT;
	int changed = 0, update = 0;
	enum mb_rc rc = MB_OK;

	/* The nightly case first: an unchanged contact, one statement. */
	if (st->prefer_update && st->hashing)
		rc = store_stage_see_same(&st->store, c, &update, e);
	if (rc == MB_OK && st->prefer_update && !update) {
		rc = write_existing(st, c, &how, e);
		update = how == WRITTEN;
	}
	if (update)
		how = WRITTEN;
	if (rc == MB_OK && how == ABSENT)
		rc = store_stage_insert(&st->store, c, &changed, e);
	if (rc == MB_OK && how == ABSENT && !changed && !st->prefer_update) {
		rc = write_existing(st, c, &how, e);
		update = how == WRITTEN;
	}
	if (rc != MB_OK)
		return rc;
	if (!changed && !update)
		return slow_path(st, c, e);
	st->prefer_update = update;
	st->usable++;
	if (update)
		st->updated++;
	else
		st->inserted++;
	return MB_OK;
}

/* 1 when rows[i, i + STORE_STAGE_MULTI) are all contacts (no reject). */
static int multi_ahead(const struct batch *b, size_t i)
{
	size_t j;

	if (b->n - i < STORE_STAGE_MULTI)
		return 0;
	for (j = i; j < i + STORE_STAGE_MULTI; j++)
		if (b->rows[j].reject)
			return 0;
	return 1;
}

/*
 * STORE_STAGE_MULTI contact rows in one INSERT.  When fewer went in (a
 * duplicate or a conflict among them), each row that did not is given the
 * per-row path, in order, exactly as if it had come alone.
 */
static enum mb_rc insert_multi(struct stager *st, const struct batch *b,
			       size_t first, struct err *e)
{
	struct store_contact c[STORE_STAGE_MULTI];
	enum mb_rc rc;
	int changed = 0, j;

	for (j = 0; j < STORE_STAGE_MULTI; j++)
		contact_of(b, &b->rows[first + (size_t)j], &c[j]);
	rc = store_stage_insert_many(&st->store, c, &changed, e);
	if (rc != MB_OK)
		return rc;
	st->usable += (uint64_t)changed;
	st->inserted += (uint64_t)changed;
	if (changed == STORE_STAGE_MULTI)
		return MB_OK;
	for (j = 0; j < STORE_STAGE_MULTI && rc == MB_OK; j++) {
		int went_in = 0;

		rc = store_stage_went_in(&st->store, &c[j], &went_in, e);
		if (rc == MB_OK && !went_in)
			rc = insert_row(st, &c[j], e);
	}
	return rc;
}

static enum mb_rc write_batch(struct stager *st, const struct batch *b,
			      struct err *e)
{
	struct store_contact c;
	enum mb_rc rc = MB_OK;
	size_t i = 0;

	while (i < b->n && rc == MB_OK) {
		const struct staged *r = &b->rows[i];

		if (st->multi && multi_ahead(b, i)) {
			rc = insert_multi(st, b, i, e);
			i += STORE_STAGE_MULTI;
			continue;
		}
		if (r->reject) {
			rc = add_reject(st, r->line, at(b, r->email), r->reject,
					at(b, r->detail), e);
		} else {
			contact_of(b, r, &c);
			rc = insert_row(st, &c, e);
		}
		i++;
	}
	return rc;
}

/*
 * Write every batch the reader produces; on failure, or when a stop is
 * requested (checked between batches of STAGE_BATCH rows and while
 * waiting), make it stop.  What the reader had queued is freed with the
 * queue.
 */
static enum mb_rc write_all(struct stager *st, struct queue *q, struct err *e)
{
	enum mb_rc rc = MB_OK;
	struct batch *b;

	while (rc == MB_OK && (b = stage_queue_take_full(q)) != NULL) {
		rc = write_batch(st, b, e);
		stage_queue_give_back(q, b);
		if (rc == MB_OK && stage_queue_stopped(q))
			break;
	}
	if (rc == MB_OK && stage_queue_stopped(q))
		rc = err_set(e, MB_ESTOPPED, "stopped while staging '%s'",
			     st->path);
	if (rc != MB_OK)
		stage_queue_set(q, &q->aborted);
	return rc;
}

/*
 * A row taken out by store_stage_bulk_end (it shares an address or an
 * external_id with another row), staged again as it came: it was counted
 * as a new contact when loaded.
 */
static enum mb_rc replay_row(void *ctx, const struct store_contact *c,
			     struct err *e)
{
	struct stager *st = ctx;

	st->usable--;
	st->inserted--;
	return insert_row(st, c, e);
}

/* The end of a load into an empty table (store_stage_bulk_begin). */
static enum mb_rc finish_bulk(struct stager *st, struct err *e)
{
	int64_t colliding = 0;

	return store_stage_bulk_end(&st->store, &colliding, replay_row, st, e);
}

static enum mb_rc finish_file(struct stager *st, struct stage_counts *counts,
			       struct err *e)
{
	int64_t doomed = 0, moved = 0;
	uint64_t gone;
	enum mb_rc rc = MB_OK;

	if (st->bulk)
		rc = finish_bulk(st, e);
	/* Both passes scan the table: skip them when nothing calls for it. */
	if (rc == MB_OK && st->conflicts)
		rc = store_stage_reject_conflicts(&st->store, &doomed, &moved,
						  e);
	if (rc == MB_OK && st->merged)
		rc = store_stage_rebuild_merged(&st->store, e);
	if (rc == MB_OK) {
		/*
		 * A doomed contact was inserted or replaced by this file;
		 * which, the counters cannot tell: new ones first.
		 */
		gone = (uint64_t)doomed < st->inserted ? (uint64_t)doomed :
			st->inserted;
		counts->contacts_new += st->inserted - gone;
		gone = (uint64_t)doomed - gone;
		counts->contacts_updated += st->updated - (gone < st->updated ?
							   gone : st->updated);
		counts->duplicates += st->merged - (uint64_t)moved;
		counts->rejected += st->rejected + (uint64_t)(doomed + moved);
	}
	return rc;
}

/* inputs.kind: how the file's bytes came, and their charset (source.h). */
static const char *input_kind(struct reader *rd)
{
	return source_kind(&rd->src);
}

static enum mb_rc update_input(struct stager *st, struct reader *rd,
			       int complete, struct err *e)
{
	struct store_input_end end;

	end.kind = input_kind(rd);
	end.preset = rd->map.preset;
	end.delimiter = rd->delimiter;
	end.rows_read = rd->rows_read;
	end.complete = complete;
	end.error = rd->err.msg;
	end.size = rd->size;
	end.sha256 = rd->sha256;
	return store_inputs_end(st->db, st->input_id, &end, e);
}

/*
 * Local failures that are about this machine, not about the file; and a
 * stop, which must not commit the rows read before it.
 */
static int is_local_failure(enum mb_rc rc)
{
	return rc == MB_EDB || rc == MB_ELOCKED || rc == MB_EINTERNAL ||
	       rc == MB_EIO || rc == MB_ESTOPPED;
}

/*
 * Read one file with the reader thread while this thread writes, all in one
 * transaction.  Returns the file's verdict: MB_OK (maybe with a warning
 * about damage after some rows), MB_EDATA/MB_ENOINPUT when the file is
 * unusable as a whole (nothing of it is kept), or a local failure.
 */
static enum mb_rc run_pipeline(struct stager *st, struct reader *rd,
			       struct err *e)
{
	struct queue q;
	pthread_t thread;
	enum mb_rc rc;

	stage_queue_init(&q, rd->opts->stop);
	rd->q = &q;
	if (pthread_create(&thread, NULL, stage_reader_main, rd) != 0) {
		stage_queue_release(&q);
		return err_set(e, MB_EINTERNAL, "cannot start reader thread:"
			       " %s", strerror(errno));
	}
	rc = write_all(st, &q, e);
	pthread_join(thread, NULL);
	stage_queue_release(&q);
	rd->q = NULL;
	if (rc != MB_OK)
		return rc;   /* the writer's failure comes first */
	if (rd->rc != MB_OK && (is_local_failure(rd->rc) ||
				(!st->usable && !rd->rows_read))) {
		*e = rd->err;
		return rd->rc;
	}
	return MB_OK;
}

static void warn_skipped(const struct stage_opts *opts, const char *path,
			 struct stage_counts *counts)
{
	char msg[ERR_MSG_MAX];

	snprintf(msg, sizeof(msg), "'%s' was staged before (same content);"
		 " skipping it", path);
	stage_warn(opts, 0, msg);
	counts->files_skipped++;
}

/* After input i: commit its archive's transaction if it was the last. */
static enum mb_rc zip_end(struct db *db, const struct inputs *in, size_t i,
			  struct err *e)
{
	if (!in->v[i].zip || (i + 1 < in->n && in->v[i + 1].zip ==
			      in->v[i].zip))
		return MB_OK;
	return store_inputs_archive_commit(db, e);
}

/*
 * The plain bytes in expected, for opts->bulk_min_bytes; 0 when unknown
 * (a pipe).  A gzip file is told by its magic, read with pread (the
 * reader's offset is left alone).
 */
static uint64_t input_plain_estimate(const struct input *in)
{
	unsigned char magic[2];
	struct stat sb;

	if (in->zip)
		return in->zip->arc.members[in->member].size;
	if (in->fd < 0 || fstat(in->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	if (pread(in->fd, magic, 2, 0) == 2 && magic[0] == 0x1f &&
	    magic[1] == 0x8b)
		return (uint64_t)sb.st_size / 2 * 9;
	return (uint64_t)sb.st_size;
}

/* Load first and index once (store_stage_bulk_begin) for this input. */
static int bulk_pays(const struct stage_opts *opts, const struct input *in)
{
	uint64_t min = opts->bulk_min_bytes ? opts->bulk_min_bytes
		: STAGE_BULK_MIN_BYTES;

	return input_plain_estimate(in) >= min;
}

/*
 * Stage one file into generation *gen (0: open a new one, and set *gen
 * when the file is committed).  The run's last file also marks what the
 * generation has not seen as vanished, in its transaction.
 */
static enum mb_rc stage_one(struct db *db, const struct stage_opts *opts,
			    struct input *in, int last, int64_t *gen,
			    struct stage_counts *counts, struct err *e)
{
	int64_t vanished = 0;
	const char *path = in->name;
	struct source_member member = SOURCE_MEMBER_INIT;
	struct stager st;
	struct reader rd;
	int found = 0, bulk;
	enum mb_rc rc;

	memset(&st, 0, sizeof(st));
	memset(&rd, 0, sizeof(rd));
	st.db = db;
	st.path = path;
	st.gen = *gen;
	rd.opts = opts;
	rd.path = path;
	if (in->zip) {
		const struct archive_member *m =
			&in->zip->arc.members[in->member];

		member.za = in->zip->arc.za;
		member.zip_path = in->path;
		member.index = m->index;
		member.name = m->name;
		member.packed_before = in->zip->packed;
		member.out_before = in->zip->inflated;
		rd.member = &member;
	}
	bulk = bulk_pays(opts, in);
	rd.fd = in->fd;
	in->fd = -1;
	rd.src = (struct source)SOURCE_INIT;
	rd.map = (struct mapping)MAPPING_INIT;
	record_init(&rd.rec);
	rc = store_inputs_begin(db, in->zip != NULL, e);
	if (rc != MB_OK)
		goto out;
	if (!st.gen)
		rc = store_inputs_gen_open(db, opts->run_id, &st.gen, e);
	/*
	 * After a first night most rows replace a contact: try UPDATE first,
	 * and hash the bodies to compare them with what Meisa acknowledged.
	 * In a first generation nothing was acknowledged: the hash of a new
	 * contact is left for push to take when it is (body_hash NULL).
	 */
	st.prefer_update = st.gen > 1;
	rd.hash = st.gen > 1;
	st.hashing = rd.hash;
	st.multi = st.gen == 1;     /* nothing older: every row is an INSERT */
	if (rc == MB_OK)
		rc = store_inputs_add(db, path, opts->run_id, st.gen,
				      &st.input_id, e);
	if (rc == MB_OK)
		rc = store_stage_open(&st.store, db, st.gen, st.input_id,
				      rd.hash, e);
	if (rc == MB_OK && st.multi && bulk)
		rc = store_stage_bulk_begin(&st.store, &st.bulk, e);
	if (rc == MB_OK)
		rc = run_pipeline(&st, &rd, e);
	if (rc == MB_OK && !rd.have_fingerprint)
		rc = err_set(e, MB_EIO, "cannot read '%s' to its end", path);
	/* The same bytes under another name: undo, it is staged already. */
	if (rc == MB_OK)
		rc = store_inputs_find(db, st.gen, rd.size, rd.sha256, &found,
				       e);
	/*
	 * A pipe given alone is hashed only as it is read: one of the pushed
	 * night's inputs again is a re-run, as all_seen says of files (a new
	 * generation is numbered right after the latest).
	 */
	if (rc == MB_OK && !found && !*gen && in->pipe_alone && st.gen > 1)
		rc = store_inputs_find(db, st.gen - 1, rd.size, rd.sha256,
				       &found, e);
	if (rc == MB_OK && found) {
		store_stage_close(&st.store);
		store_inputs_rollback(db, in->zip != NULL);
		warn_skipped(opts, path, counts);
		goto out;
	}
	if (rc == MB_OK && rd.rc != MB_OK) {
		char msg[ERR_MSG_MAX + 96];

		snprintf(msg, sizeof(msg), "%s; the %llu rows before it are"
			 " staged, the input is marked incomplete", rd.err.msg,
			 (unsigned long long)rd.rows_read);
		stage_warn(opts, 1, msg);
	}
	if (rc == MB_OK)
		rc = finish_file(&st, counts, e);
	store_stage_close(&st.store);
	if (rc == MB_OK && last && st.gen > 1)
		rc = store_stage_vanish(db, st.gen, &vanished, e);
	if (rc == MB_OK)
		rc = update_input(&st, &rd, rd.rc == MB_OK, e);
	if (rc == MB_OK)
		rc = store_inputs_commit(db, in->zip != NULL, e);
	if (rc == MB_OK) {
		if (!*gen)
			counts->new_generation = 1;
		*gen = st.gen;
		counts->files_staged++;
		counts->rows_read += rd.rows_read;
		counts->files_incomplete += rd.rc != MB_OK;
	}
out:
	store_stage_close(&st.store);
	if (rc != MB_OK)
		store_inputs_rollback(db, in->zip != NULL);
	if (in->zip) {
		in->zip->packed += in->zip->arc.members[in->member].comp_size;
		in->zip->inflated += source_inflated(&rd.src);
	}
	source_close(&rd.src);
	if (rd.fd >= 0)
		close(rd.fd);
	mapping_release(&rd.map);
	record_release(&rd.rec);
	return rc;
}

/*
 * A file with the bytes of one of generation gen's inputs.  Only a file
 * whose size matches one is hashed before staging, so re-staging the same
 * export skips it without reading it row by row, and a new export is read
 * once.
 */
static enum mb_rc seen_before(struct db *db, int64_t gen,
			      const struct input *in, int *found,
			      struct err *e)
{
	const struct archive_member *m = NULL;
	struct stat st;
	char sha256[65];
	uint64_t size;
	int same_size = 0;
	enum mb_rc rc;

	*found = 0;
	if (!gen)
		return MB_OK;
	if (in->zip) {
		/* A member's fingerprint is of its stored bytes. */
		m = &in->zip->arc.members[in->member];
		size = m->comp_size;
	} else if (fstat(in->fd, &st) != 0) {
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s",
			       in->path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		return MB_OK;    /* a pipe: hashed as it is read, once */
	} else {
		size = (uint64_t)st.st_size;
	}
	rc = store_inputs_size_seen(db, gen, size, &same_size, e);
	if (rc != MB_OK || !same_size)
		return rc;
	if (m) {
		archive_fingerprint(in->zip->arc.za, m->index, &size, sha256);
	} else {
		rc = stage_input_fingerprint(in->path, in->fd, &size,
					     sha256, e);
	}
	if (rc == MB_OK)
		rc = store_inputs_find(db, gen, size, sha256, found, e);
	return rc;
}

/* Every input is one of generation gen's inputs: a re-run. */
static enum mb_rc all_seen(struct db *db, int64_t gen,
			   const struct inputs *in, int *all, struct err *e)
{
	enum mb_rc rc = MB_OK;
	size_t i;
	int found = 1;

	for (i = 0; i < in->n && rc == MB_OK && found; i++)
		rc = seen_before(db, gen, &in->v[i], &found, e);
	*all = rc == MB_OK && found;
	return rc;
}

/* A stop request met at input in: what is kept, what to do. */
static enum mb_rc stopped(const struct input *in,
			  const struct stage_counts *counts, struct err *e)
{
	return err_set(e, MB_ESTOPPED, "staging stopped at '%s': nothing of"
		       " %s is kept (rolled back, as after a crash); the %llu"
		       " files staged before it are kept; run the same command"
		       " again to resume", in->zip ? in->path : in->name,
		       in->zip ? "that archive" : "that file",
		       (unsigned long long)counts->files_staged);
}

/*
 * Input v: skipped (staged before), staged, or refused as a whole (warned,
 * counted); anything else is a local failure or a stop (MB_ESTOPPED).
 */
static enum mb_rc stage_input(struct db *db, const struct stage_opts *opts,
			      struct input *v, int last, int64_t *gen,
			      struct stage_counts *counts, struct err *e)
{
	struct err file_err = ERR_INIT;
	enum mb_rc rc;
	int found = 0;

	if (stop_requested(opts))
		return MB_ESTOPPED;
	rc = seen_before(db, *gen, v, &found, e);
	if (rc != MB_OK)
		return rc;
	if (found) {
		warn_skipped(opts, v->name, counts);
		return MB_OK;
	}
	rc = stage_one(db, opts, v, last, gen, counts, &file_err);
	if (rc == MB_EDATA || rc == MB_ENOINPUT) {
		stage_warn(opts, 1, file_err.msg);
		counts->files_failed++;
		return MB_OK;
	}
	if (rc != MB_OK)
		*e = file_err;
	return rc;
}

/* store_stage_vanish in a transaction of its own. */
static enum mb_rc vanish_alone(struct db *db, int64_t gen, struct err *e)
{
	int64_t vanished = 0;
	enum mb_rc rc;

	rc = db_begin(db, e);
	if (rc == MB_OK)
		rc = store_stage_vanish(db, gen, &vanished, e);
	if (rc == MB_OK)
		rc = db_commit(db, e);
	if (rc != MB_OK)
		db_rollback(db);
	return rc;
}

static enum mb_rc stage_all(struct db *db, const struct stage_opts *opts,
			    struct inputs *in, struct stage_counts *counts,
			    struct err *e)
{
	enum mb_rc rc;
	struct stage_counts before = *counts;
	int64_t latest = 0, gen, before_gen = 0;
	int pushed = 0, all = 0;
	uint64_t last_staged = 0;
	size_t i;

	rc = db_gen_latest(db, &latest, &pushed, e);
	if (rc == MB_OK && latest && pushed)
		rc = all_seen(db, latest, in, &all, e);
	counts->generation = latest;
	if (rc != MB_OK || all) {
		for (i = 0; rc == MB_OK && i < in->n; i++)
			warn_skipped(opts, in->v[i].name, counts);
		return rc;
	}
	gen = pushed ? 0 : latest;
	for (i = 0; i < in->n; i++) {
		if (!i || in->v[i].zip != in->v[i - 1].zip) {
			before = *counts;      /* a zip's transaction starts */
			before_gen = gen;
		}
		last_staged = counts->files_staged;
		rc = stage_input(db, opts, &in->v[i], i + 1 == in->n, &gen,
				 counts, e);
		if (rc == MB_OK)
			rc = zip_end(db, in, i, e);
		if (rc != MB_OK)
			break;
	}
	if (rc != MB_OK && i < in->n) {
		/* A zip's earlier members go with the one that failed. */
		db_rollback(db);
		if (in->v[i].zip) {
			*counts = before;
			gen = before_gen;
		}
		if (rc == MB_ESTOPPED)
			rc = stopped(&in->v[i], counts, e);
	}
	/* The last file was skipped or refused: it did not vanish them. */
	if (rc == MB_OK && gen > 1 && counts->files_staged &&
	    counts->files_staged == last_staged)
		rc = vanish_alone(db, gen, e);
	if (gen)
		counts->generation = gen;
	return rc;
}


enum mb_rc stage_files(struct db *db, const struct stage_opts *opts,
		       const char *const *paths, size_t npaths,
		       struct stage_counts *counts, struct err *e)
{
	struct inputs in;
	int *fds = xcalloc(npaths + 1, sizeof(*fds));
	enum mb_rc rc = MB_OK;
	size_t i;

	memset(&in, 0, sizeof(in));
	memset(counts, 0, sizeof(*counts));
	for (i = 0; i < npaths; i++)
		fds[i] = -1;
	for (i = 0; i < npaths && rc == MB_OK; i++)
		rc = stage_input_open(paths[i], &fds[i], e);
	if (rc == MB_OK)
		rc = stage_inputs_list(opts, paths, fds, npaths, &in,
				       counts, e);
	for (i = 0; i < npaths; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);

	/* Staging speed: store_inputs.c says why. */
	if (rc == MB_OK)
		rc = store_inputs_bulk_begin(db, e);
	if (rc == MB_OK)
		rc = stage_all(db, opts, &in, counts, e);
	store_inputs_bulk_end(db);
	if (rc == MB_OK && counts->files_failed)
		rc = err_set(e, MB_EDATA, "%llu of %zu files could not be"
			     " staged", (unsigned long long)
			     counts->files_failed, in.n + in.refused);
	else if (rc == MB_OK && counts->files_incomplete)
		rc = err_set(e, MB_EDATA, "%llu of %zu files were staged only"
			     " up to damage", (unsigned long long)
			     counts->files_incomplete, in.n + in.refused);
	stage_inputs_release(&in);
	return rc;
}
