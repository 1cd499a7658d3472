/*
 * guard: refuse an incomplete or shrunken night before it is pushed; see
 * guard.h.
 */
#include "guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_guard.h"
#include "store_report.h"

enum mb_rc guard_parse_max_missing(const char *arg, struct guard_opts *g,
				   struct err *e)
{
	unsigned long long n;
	char *end;

	if (strcmp(arg, "none") == 0) {
		g->kind = GUARD_NO_LIMIT;
		g->limit = 0;
		return MB_OK;
	}
	errno = 0;
	n = strtoull(arg, &end, 10);
	if (end == arg || *arg == '-' || *arg == '+' || errno ||
	    n > INT64_MAX || (*end && strcmp(end, "%")) ||
	    (*end == '%' && n > 100))
		return err_set(e, MB_EUSAGE, "--max-missing is N, N%% (0 to"
			       " 100) or none, not '%s'", arg);
	g->kind = *end == '%' ? GUARD_PERCENT : GUARD_COUNT;
	g->limit = (int64_t)n;
	return MB_OK;
}

enum mb_rc guard_missing_unknown(struct db *db, int64_t gen,
				 struct buf *reason, struct err *e)
{
	struct buf path = BUF_INIT, why = BUF_INIT;
	enum mb_rc rc;
	int found = 0;

	rc = store_guard_incomplete(db, gen, &found, &path, &why, e);
	if (rc == MB_OK && found &&
	    buf_printf(reason, "'%s' was not read to its end (%s): contacts"
		       " after the damage would count as missing",
		       buf_str(&path), buf_str(&why)) != MB_OK)
		rc = err_set(e, MB_ETOOBIG, "reason too long");
	buf_release(&path);
	buf_release(&why);
	return rc;
}

/* The latest generation has an incomplete input: refused unless allowed. */
static enum mb_rc check_complete(struct db *db, int64_t gen,
				 const struct guard_opts *g, int *partial,
				 struct err *e)
{
	struct buf reason = BUF_INIT;
	enum mb_rc rc;

	rc = guard_missing_unknown(db, gen, &reason, e);
	*partial = rc == MB_OK && reason.len;
	if (*partial && !g->allow_partial)
		rc = err_set(e, MB_EDATA, "generation %lld is incomplete: %s;"
			     " nothing was sent (fix the input and stage it"
			     " again, or push the rows read with"
			     " --allow-partial)", (long long)gen,
			     buf_str(&reason));
	buf_release(&reason);
	return rc;
}

/* missing of before exceed g's limit. */
static int too_many(const struct guard_opts *g, int64_t missing,
		    int64_t before)
{
	if (g->kind == GUARD_COUNT)
		return missing > g->limit;
	if (g->kind == GUARD_PERCENT)
		return (double)missing * 100.0 > (double)g->limit * before;
	return 0;
}

static enum mb_rc check_shrink(struct db *db, int64_t gen, int64_t previous,
			       const struct guard_opts *g, struct err *e)
{
	int64_t missing = 0, before = 0;
	enum mb_rc rc;

	rc = store_guard_shrink(db, gen, previous, &missing, &before, e);
	if (rc != MB_OK || !too_many(g, missing, before))
		return rc;
	return err_set(e, MB_EDATA, "%lld of the %lld contacts of the previous"
		       " generation are missing from generation %lld (%.1f%%),"
		       " more than --max-missing %lld%s allows; nothing was"
		       " sent: check the export ('export missing' lists"
		       " them), or run again with a larger --max-missing (or"
		       " none) to go on", (long long)missing, (long long)before,
		       (long long)gen, before ? 100.0 * (double)missing /
		       (double)before : 100.0, (long long)g->limit,
		       g->kind == GUARD_PERCENT ? "%" : "");
}

enum mb_rc guard_check(struct db *db, const struct guard_opts *g,
		       struct err *e)
{
	int64_t gen = 0, latest = 0, previous = 0;
	int pushed = 0, partial = 0;
	enum mb_rc rc;

	/* pushed: a push of this night wrote already (a resumed night). */
	rc = db_gen_latest(db, &gen, &pushed, e);
	if (rc != MB_OK || !gen || pushed)
		return rc;
	rc = check_complete(db, gen, g, &partial, e);
	/* A partial generation's missing contacts are not known to be gone. */
	if (rc != MB_OK || partial || g->kind == GUARD_NO_LIMIT)
		return rc;
	rc = store_report_generations(db, &latest, &previous, e);
	if (rc != MB_OK || !previous)
		return rc;
	return check_shrink(db, gen, previous, g, e);
}
