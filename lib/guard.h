/*
 * guard: the checks that keep a bad night's input from reaching Meisa.
 *
 * push runs guard_check once, in its pre-flight (after the plan, before the
 * first write of a night):
 *   - a generation with an incomplete input (inputs.complete = 0: its
 *     reading stopped at damage, a truncated gzip, a damaged zip member, a
 *     CSV ending inside a quote) is refused unless allow_partial;
 *   - the shrink guard: when more of the previous generation's contacts
 *     are missing from this one than the limit allows, the push stops.
 * Both answer MB_EDATA (exit 65) with a message that names the counts and
 * the flag that lets the run go on; the staged generation stays as it is.
 * A first night (no previous generation), a generation whose push has
 * written already (a resumed night) and a pushed one are never stopped by
 * the shrink guard.
 *
 *   struct guard_opts g = GUARD_OPTS_INIT;
 *   rc = guard_parse_max_missing("70%", &g, &e);
 *   rc = guard_check(db, &g, &e);
 */
#ifndef MB_GUARD_H
#define MB_GUARD_H

#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "err.h"

enum guard_limit {
	GUARD_NO_LIMIT = 0,      /* --max-missing none (and a zeroed struct) */
	GUARD_COUNT,             /* at most limit contacts missing */
	GUARD_PERCENT            /* at most limit % of the previous ones */
};

struct guard_opts {
	int allow_partial;       /* push a generation with an incomplete input */
	enum guard_limit kind;
	int64_t limit;
};

/* The default: --max-missing 10%. */
#define GUARD_OPTS_INIT { 0, GUARD_PERCENT, 10 }

/*
 * Parse --max-missing: "N" (contacts), "N%" (0 to 100) or "none" into g.
 * MB_EUSAGE, naming the value, for anything else; g untouched then.
 */
enum mb_rc guard_parse_max_missing(const char *arg, struct guard_opts *g,
				   struct err *e);

/* The checks above on the latest generation of db (borrowed). */
enum mb_rc guard_check(struct db *db, const struct guard_opts *g,
		       struct err *e);

/*
 * Why the latest generation gen's missing count is unknown (it has an
 * incomplete input), appended to reason; nothing when it is known.
 */
enum mb_rc guard_missing_unknown(struct db *db, int64_t gen,
				 struct buf *reason, struct err *e);

#endif
