/*
 * status: what the rows of the staging file mean, counted.  The store
 * (store_report.h) reads them; this file tallies the pass and puts the
 * status object together.
 */
#include "status.h"

#include <string.h>

#include "guard.h"
#include "json.h"

/* One contact of the pass into c. */
static void tally(const struct store_pass_row *row, int64_t gen,
		  struct status_counts *c)
{
	const char *state = row->state;
	const char *enroll = row->enroll_status;

	if (row->gen != gen) {
		c->missing++;
		return;
	}
	c->contacts++;
	switch (state ? state[0] : 0) {
	case 'u':
		c->upserted++;
		if (row->has_acked_gen && row->acked_gen < gen)
			c->unchanged++;
		break;
	case 'f':
		c->failed++;
		break;
	case 's':  /* skipped or sent */
		if (state[1] == 'k')
			c->skipped++;
		else
			c->pending++;
		break;
	default:   /* pending: the CHECK constraint allows nothing else */
		c->pending++;
		break;
	}
	if (enroll && (strcmp(enroll, "enrolled") == 0 ||
		       strcmp(enroll, "already_enrolled") == 0 ||
		       strcmp(enroll, "acknowledged") == 0))
		c->enrolled++;
	if (row->enroll_unknown)
		c->enroll_unknown++;
}

/* The pass: the states of the latest generation, and how many are missing. */
static enum mb_rc count_pass(struct db *db, int64_t gen, int64_t previous,
			     struct status_counts *c, struct err *e)
{
	struct store_pass pass = STORE_PASS_INIT;
	struct store_pass_row row;
	enum mb_rc rc;

	rc = store_pass_open(&pass, db, gen, previous, e);
	while (rc == MB_OK && (rc = store_pass_next(&pass, &row, e)) == MB_OK &&
	       !row.done)
		tally(&row, gen, c);
	store_pass_close(&pass);
	return rc;
}

/*
 * The one place missing is judged: a generation with an incomplete input
 * (guard.h) does not know which contacts are gone, so it counts none.
 */
static enum mb_rc unknown_missing(struct db *db, int64_t gen,
				  struct status_counts *c, struct err *e)
{
	struct buf reason = BUF_INIT;
	enum mb_rc rc;

	rc = guard_missing_unknown(db, gen, &reason, e);
	if (rc == MB_OK && reason.len)
		c->missing = 0;
	buf_release(&reason);
	return rc;
}

enum mb_rc status_load(struct db *db, struct status_counts *c,
		       struct err *e)
{
	int64_t gen = 0, previous = 0;
	enum mb_rc rc;

	memset(c, 0, sizeof(*c));
	rc = store_report_generations(db, &gen, &previous, e);
	if (rc == MB_OK)
		rc = count_pass(db, gen, previous, c, e);
	if (rc == MB_OK)
		rc = unknown_missing(db, gen, c, e);
	if (rc == MB_OK)
		rc = store_report_indexed(db, gen, c, e);
	if (rc == MB_OK)
		rc = store_report_requests(db, &c->requests, e);
	c->generation = gen;
	return rc;
}

enum mb_rc status_runs_json(struct db *db, struct buf *out, struct err *e)
{
	return store_report_runs_json(db, out, e);
}

enum mb_rc status_json(struct db *db, struct buf *out, struct err *e)
{
	struct status_counts c;
	enum mb_rc rc;

	rc = status_load(db, &c, e);
	if (rc == MB_OK)
		rc = status_json_of(db, &c, out, e);
	return rc;
}

/* missing_unknown_reason into the object in out, when there is one. */
static enum mb_rc add_missing_reason(struct db *db, int64_t gen,
				     struct buf *out, struct err *e)
{
	struct buf reason = BUF_INIT;
	enum mb_rc rc;

	rc = guard_missing_unknown(db, gen, &reason, e);
	if (rc == MB_OK && reason.len && out->len &&
	    out->data[out->len - 1] == '}') {
		out->data[--out->len] = '\0';
		rc = buf_addstr(out, ",\"missing_unknown_reason\":");
		if (rc == MB_OK)
			rc = json_add_string(out, reason.data, reason.len);
		if (rc == MB_OK)
			rc = buf_addch(out, '}');
		if (rc != MB_OK)
			rc = err_set(e, rc, "status too long");
	}
	buf_release(&reason);
	return rc;
}

enum mb_rc status_json_of(struct db *db, const struct status_counts *c,
			  struct buf *out, struct err *e)
{
	struct buf as_of = BUF_INIT, last = BUF_INIT;
	enum mb_rc rc;

	rc = db_meta_get(db, "unsubscribed_as_of", &as_of, e);
	if (rc == MB_OK)
		rc = store_report_last_run_json(db, &last, e);
	if (rc == MB_OK)
		rc = store_report_status_json(db, c, buf_str(&as_of),
					      buf_str(&last), out, e);
	if (rc == MB_OK)
		rc = add_missing_reason(db, c->generation, out, e);
	buf_release(&as_of);
	buf_release(&last);
	return rc;
}
