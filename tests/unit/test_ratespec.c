/*
 * ratespec: the one --rate grammar, each extension only where its flag
 * asks for it, and messages that quote the spec.  The client's and the
 * sandbox's own tables (test_ratelimit, test_sandbox) run through it too.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ratespec.h"

#define SEC  INT64_C(1000)
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

#define LOOSE RATESPEC_LOOSE
#define SPANS RATESPEC_SPANS
#define BOTH  (RATESPEC_LOOSE | RATESPEC_SPANS)

struct spec_case {
	const char *spec;
	unsigned flags;
	size_t nwindows;         /* (size_t)-1: refused */
	int64_t span0;
	uint32_t limit0;
};

static const struct spec_case spec_cases[] = {
	{ "60/m,1000/h", 0, 2, MIN, 60 },
	{ "60/m,1000/h", BOTH, 2, MIN, 60 },
	{ "none", 0, 0, 0, 0 },
	{ " None ", LOOSE, 0, 0, 0 },
	{ " None ", SPANS, (size_t)-1, 0, 0 },
	{ " 5 / S ", LOOSE, 1, SEC, 5 },
	{ " 5 / S ", SPANS, (size_t)-1, 0, 0 },
	{ "5/S", 0, (size_t)-1, 0, 0 },
	{ "5/d", 0, (size_t)-1, 0, 0 },
	{ "5/d", LOOSE, (size_t)-1, 0, 0 },
	{ "5/d", SPANS, 1, DAY, 5 },
	{ "5/2s", 0, (size_t)-1, 0, 0 },
	{ "5/2s", SPANS, 1, 2 * SEC, 5 },
	{ " 5 / 2S ", BOTH, 1, 2 * SEC, 5 },
	{ "1/1000000d", SPANS, 1, 1000000 * DAY, 1 },
	{ "1/1000001d", SPANS, (size_t)-1, 0, 0 },
	{ "1/0s", SPANS, (size_t)-1, 0, 0 },
	{ "1/2 s", BOTH, (size_t)-1, 0, 0 },
	{ "1000000/s", 0, 1, SEC, 1000000 },
	{ "1000001/s", BOTH, (size_t)-1, 0, 0 },
	{ "1/s,2/s,3/s,4/s", 0, 4, SEC, 1 },
	{ "1/s,2/s,3/s,4/s,5/s", BOTH, (size_t)-1, 0, 0 },
};

Test(ratespec, each_extension_only_under_its_flag)
{
	size_t i;

	for (i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++) {
		const struct spec_case *c = &spec_cases[i];
		struct ratespec rs = RATESPEC_INIT;
		struct err e = ERR_INIT;
		enum mb_rc rc = ratespec_parse(&rs, c->spec, c->flags, &e);

		if (c->nwindows == (size_t)-1) {
			cr_expect_eq(rc, MB_EUSAGE, "'%s' %u accepted",
				     c->spec, c->flags);
			cr_expect_eq(rs.nwindows, 0, "'%s' written", c->spec);
			continue;
		}
		cr_expect_eq(rc, MB_OK, "'%s' %u: %s", c->spec, c->flags,
			     e.msg);
		cr_expect_eq(rs.nwindows, c->nwindows, "'%s'", c->spec);
		if (rs.nwindows) {
			cr_expect_eq(rs.windows[0].span_ms, c->span0, "'%s'",
				     c->spec);
			cr_expect_eq(rs.windows[0].limit, c->limit0, "'%s'",
				     c->spec);
		}
	}
}

Test(ratespec, messages_quote_the_spec)
{
	static const struct {
		const char *spec;
		unsigned flags;
		const char *want;
	} cases[] = {
		{ "60/m,6x/h", 0,
		  "invalid rate '60/m,6x/h': '6x/h' is not N/s, N/m or N/h" },
		{ "60/m,6x/h", SPANS, "invalid rate '60/m,6x/h': '6x/h' is not "
		  "N/s, N/m, N/h, N/d or N/Ks (such as 5/2s)" },
		{ "0/m", BOTH, "invalid rate '0/m': '0/m' must allow between "
		  "1 and 1000000 requests" },
		{ "1/m,", BOTH, "invalid rate '1/m,': empty window" },
		{ "1/s,1/s,1/s,1/s,1/s", 0,
		  "invalid rate '1/s,1/s,1/s,1/s,1/s': more than 4 windows" },
		{ "", LOOSE, "invalid rate '': expected 'none' or windows such "
		  "as 60/m,1000/h" },
		{ NULL, BOTH, "missing rate" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ratespec rs;
		struct err e = ERR_INIT;

		cr_assert_eq(ratespec_parse(&rs, cases[i].spec,
					    cases[i].flags, &e), MB_EUSAGE);
		cr_expect_eq(e.rc, MB_EUSAGE);
		cr_expect_str_eq(e.msg, cases[i].want);
	}
}
