/*
 * Unit tests of meisa-sandbox's pure parts: rate specs and windows, option
 * specs, the fault draw, email and UTF-8 checks, query strings, routing, and
 * the store and endpoints on an in-memory database.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sandbox.h"
#include "sandbox_api.h"
#include "sandbox_rate.h"
#include "sandbox_spec.h"
#include "sandbox_store.h"
#include "sandbox_validate.h"

#include <sqlite3.h>

/* ---- rate specs --------------------------------------------------------- */

struct rate_case {
	const char *spec;
	size_t nwindows;
	uint32_t limit[2];
	int64_t span_ms[2];
};

Test(sandbox_rate, parse_valid)
{
	static const struct rate_case cases[] = {
		{ "none", 0, { 0, 0 }, { 0, 0 } },
		{ "60/m,1000/h", 2, { 60, 1000 }, { 60000, 3600000 } },
		{ "5/s", 1, { 5, 0 }, { 1000, 0 } },
		{ "5/2s", 1, { 5, 0 }, { 2000, 0 } },
		{ "100/d", 1, { 100, 0 }, { 86400000, 0 } },
		{ "1/10m,3/h", 2, { 1, 3 }, { 600000, 3600000 } },
		{ "1000000/s", 1, { 1000000, 0 }, { 1000, 0 } },
	};
	size_t i, w;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sandbox_rate rate = SANDBOX_RATE_INIT;
		struct err e = ERR_INIT;

		cr_assert_eq(sandbox_rate_parse(&rate, cases[i].spec, &e),
			     MB_OK, "%s: %s", cases[i].spec, e.msg);
		cr_assert_eq(rate.nwindows, cases[i].nwindows, "%s",
			     cases[i].spec);
		for (w = 0; w < rate.nwindows; w++) {
			cr_assert_eq(rate.windows[w].limit, cases[i].limit[w]);
			cr_assert_eq(rate.windows[w].span_ms,
				     cases[i].span_ms[w]);
		}
	}
}

Test(sandbox_rate, parse_invalid)
{
	static const char *const cases[][2] = {
		{ "", "invalid rate '': expected 'none'" },
		{ "5", "invalid rate '5': '5' is not N/s" },
		{ "5/x", "'5/x' is not N/s, N/m, N/h, N/d or N/Ks" },
		{ "5/s,", "invalid rate '5/s,': empty window" },
		{ "/s", "'/s' is not" },
		{ "-5/s", "'-5/s' is not" },
		{ "5/s ", "'5/s ' is not" },
		{ "5/0s", "'5/0s' is not" },
		{ "0/s", "between 1 and 1000000" },
		{ "1000001/s", "between 1 and 1000000" },
		{ "99999999999999999999/s", "between 1 and" },
		{ "1/s,1/s,1/s,1/s,1/s", "more than 4 windows" },
		{ "NONE", "'NONE' is not" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sandbox_rate rate = SANDBOX_RATE_INIT;
		struct err e = ERR_INIT;

		cr_assert_eq(sandbox_rate_parse(&rate, cases[i][0], &e),
			     MB_EUSAGE, "%s", cases[i][0]);
		cr_assert(strstr(e.msg, cases[i][1]), "%s: %s", cases[i][0],
			  e.msg);
		cr_assert_eq(rate.nwindows, 0);
	}
}

static struct sandbox_rate rate_of(const char *spec)
{
	struct sandbox_rate rate = SANDBOX_RATE_INIT;

	cr_assert_eq(sandbox_rate_parse(&rate, spec, NULL), MB_OK);
	return rate;
}

Test(sandbox_rate, burst_then_window_frees)
{
	struct sandbox_rate rate = rate_of("5/s");
	struct sandbox_rate_log log = SANDBOX_RATE_LOG_INIT;
	int i;

	sandbox_rate_log_init(&log, &rate);
	for (i = 0; i < 5; i++)
		cr_assert_eq(sandbox_rate_admit(&rate, &log, 1000 + i * 10), 0);
	/* The 6th at 1100 waits until the first (1000) leaves the second. */
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 1100), 900);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 1999), 1);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 2000), 0);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 2000), 10);
	sandbox_rate_log_release(&log);
	cr_assert_null(log.times);
	cr_assert_eq(log.cap + log.head + log.count, 0);
}

Test(sandbox_rate, refused_requests_do_not_count)
{
	struct sandbox_rate rate = rate_of("2/s");
	struct sandbox_rate_log log = SANDBOX_RATE_LOG_INIT;
	int64_t t;

	sandbox_rate_log_init(&log, &rate);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 0), 0);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 0), 0);
	for (t = 1; t < 1000; t += 7)
		cr_assert_gt(sandbox_rate_admit(&rate, &log, t), 0);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 1000), 0);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 1000), 0);
	cr_assert_eq(log.count, 2);
	sandbox_rate_log_release(&log);
}

Test(sandbox_rate, longest_wait_of_several_windows)
{
	struct sandbox_rate rate = rate_of("3/s,4/m");
	struct sandbox_rate_log log = SANDBOX_RATE_LOG_INIT;

	sandbox_rate_log_init(&log, &rate);
	cr_assert_eq(log.cap, 4);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 0), 0);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 100), 0);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 200), 0);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 300), 700);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 1000), 0);
	/* Second window free at 1100, but the minute holds 4 since 0. */
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 1100), 58900);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 60000), 0);
	/* The ring wrapped: times are now 100, 200, 1000, 60000. */
	cr_assert_eq(log.head, 1);
	cr_assert_eq(sandbox_rate_admit(&rate, &log, 60050), 50);
	sandbox_rate_log_release(&log);
}

Test(sandbox_rate, unlimited_keeps_nothing)
{
	struct sandbox_rate rate = rate_of("none");
	struct sandbox_rate_log log = SANDBOX_RATE_LOG_INIT;
	int i;

	sandbox_rate_log_init(&log, &rate);
	cr_assert_null(log.times);
	for (i = 0; i < 10000; i++)
		cr_assert_eq(sandbox_rate_admit(&rate, &log, 5), 0);
	sandbox_rate_log_release(&log);
}

/* ---- option specs ------------------------------------------------------- */

Test(sandbox_opts, key_specs)
{
	static const struct {
		const char *arg;
		const char *key;
		unsigned scopes;
		int live;
	} cases[] = {
		{ "meisa_test_x", "meisa_test_x", SANDBOX_SCOPE_ALL, 0 },
		{ "meisa_live_y", "meisa_live_y", SANDBOX_SCOPE_ALL, 1 },
		{ "k=contacts:read", "k", SANDBOX_SCOPE_CONTACTS_READ, 0 },
		{ "k=contacts:write,sequences:enroll", "k",
		  SANDBOX_SCOPE_CONTACTS_WRITE | SANDBOX_SCOPE_SEQUENCES_ENROLL,
		  0 },
		{ "k=", "k", 0, 0 },
		{ "meisa_live_=tags:write", "meisa_live_",
		  SANDBOX_SCOPE_TAGS_WRITE, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sandbox_key_spec spec = SANDBOX_KEY_SPEC_INIT;
		struct err e = ERR_INIT;

		cr_assert_eq(sandbox_key_parse(&spec, cases[i].arg, &e), MB_OK,
			     "%s: %s", cases[i].arg, e.msg);
		cr_assert_str_eq(spec.key, cases[i].key);
		cr_assert_eq(spec.scopes, cases[i].scopes, "%s", cases[i].arg);
		cr_assert_eq(spec.live, cases[i].live);
		sandbox_key_spec_release(&spec);
		cr_assert_null(spec.key);
		cr_assert_eq(spec.scopes, 0);
	}
}

Test(sandbox_opts, bad_key_specs_never_echo_the_key)
{
	static const char *const cases[][2] = {
		{ "", "empty key" },
		{ "=contacts:read", "empty key" },
		{ "sec ret", "white space" },
		{ "secret\t", "white space" },
		{ "secret=contacts:read,contacts:writ", "'contacts:writ'" },
		{ "secret=,", "unknown scope ''" },
		{ "secret=CONTACTS:READ", "'CONTACTS:READ'" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sandbox_key_spec spec = SANDBOX_KEY_SPEC_INIT;
		struct err e = ERR_INIT;

		cr_assert_eq(sandbox_key_parse(&spec, cases[i][0], &e),
			     MB_EUSAGE, "%s", cases[i][0]);
		cr_assert(strstr(e.msg, cases[i][1]), "%s", e.msg);
		cr_assert_null(strstr(e.msg, "secret"), "%s", e.msg);
		cr_assert_null(spec.key);
	}
}

Test(sandbox_opts, scopes_round_trip)
{
	unsigned bit;

	for (bit = 1; bit <= SANDBOX_SCOPE_ALL; bit <<= 1) {
		const char *name = sandbox_scope_name(bit);

		cr_assert_not_null(name);
		cr_assert_eq(sandbox_scope_lookup(name, strlen(name)), bit);
	}
	cr_assert_null(sandbox_scope_name(0));
	cr_assert_null(sandbox_scope_name(3));
	cr_assert_null(sandbox_scope_name(SANDBOX_SCOPE_ALL + 1));
	cr_assert_eq(sandbox_scope_lookup("contacts:rea", 12), 0);
	cr_assert_eq(sandbox_scope_lookup("contacts:readx", 14), 0);
}

Test(sandbox_opts, sequences)
{
	static const char *const good[][3] = {
		{ "onboarding", "onboarding", "active" },
		{ "win-back=paused", "win-back", "paused" },
		{ "a_b=active", "a_b", "active" },
	};
	static const char *const bad[] = {
		"", "=active", "x=stopped", "x=", "has space", "a/b",
	};
	const char *status;
	char *slug, *name;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(sandbox_sequence_parse(good[i][0], &slug, &status,
						    NULL), MB_OK);
		cr_assert_str_eq(slug, good[i][1]);
		cr_assert_str_eq(status, good[i][2]);
		free(slug);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err e = ERR_INIT;

		cr_assert_eq(sandbox_sequence_parse(bad[i], &slug, &status, &e),
			     MB_EUSAGE, "%s", bad[i]);
		cr_assert(strstr(e.msg, "--sequence"));
	}
	name = sandbox_sequence_name("spring-launch_2");
	cr_assert_str_eq(name, "Spring launch 2");
	free(name);
}

Test(sandbox_opts, storms)
{
	int64_t start, duration;
	static const char *const bad[] = {
		"", "5", ":5", "5:", "5:0", "-1:5", "5:-1", "a:b", "5:5x",
		"1e10:5", "nan:1", " 1:2",
	};
	size_t i;

	cr_assert_eq(sandbox_storm_parse("5:2.5", &start, &duration, NULL),
		     MB_OK);
	cr_assert_eq(start, 5000);
	cr_assert_eq(duration, 2500);
	cr_assert_eq(sandbox_storm_parse("0:0.001", &start, &duration, NULL),
		     MB_OK);
	cr_assert_eq(start, 0);
	cr_assert_eq(duration, 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sandbox_storm_parse(bad[i], &start, &duration,
						 NULL), MB_EUSAGE,
			     "%s", bad[i]);
}

Test(sandbox_opts, fractions)
{
	static const struct {
		const char *arg;
		double value;
	} good[] = {
		{ "0", 0.0 }, { "1", 1.0 }, { "0.05", 0.05 }, { "5%", 0.05 },
		{ "100%", 1.0 }, { ".5", 0.5 },
	};
	static const char *const bad[] = {
		"", "-0.1", "1.01", "x", "0.5x", "101%", "nan", "inf", " 0.5",
		"%",
	};
	double v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(sandbox_fraction_parse(good[i].arg, &v, NULL),
			     MB_OK, "%s", good[i].arg);
		cr_assert_float_eq(v, good[i].value, 1e-12);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sandbox_fraction_parse(bad[i], &v, NULL),
			     MB_EUSAGE, "%s", bad[i]);
}

/* ---- faults ------------------------------------------------------------- */

Test(sandbox_faults, pick_thresholds)
{
	/* Binary fractions, so that the sums are exact. */
	static const struct {
		double u;
		enum sandbox_fault fault;
	} cases[] = {
		{ 0.0, SANDBOX_FAULT_FAIL }, { 0.1249, SANDBOX_FAULT_FAIL },
		{ 0.125, SANDBOX_FAULT_DROP }, { 0.3749, SANDBOX_FAULT_DROP },
		{ 0.375, SANDBOX_FAULT_LOST_ACK },
		{ 0.4999, SANDBOX_FAULT_LOST_ACK },
		{ 0.5, SANDBOX_FAULT_NONE }, { 0.9999, SANDBOX_FAULT_NONE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(sandbox_fault_pick(0.125, 0.25, 0.125,
						cases[i].u), cases[i].fault,
			     "u=%g", cases[i].u);
	cr_assert_eq(sandbox_fault_pick(0, 0, 0, 0.0), SANDBOX_FAULT_NONE);
	cr_assert_eq(sandbox_fault_pick(0, 0.5, 0, 0.0), SANDBOX_FAULT_DROP);
	cr_assert_eq(sandbox_fault_pick(0, 0, 0.5, 0.0),
		     SANDBOX_FAULT_LOST_ACK);
	cr_assert_eq(sandbox_fault_pick(1, 0, 0, 0.9999999),
		     SANDBOX_FAULT_FAIL);
}

Test(sandbox_faults, generator_is_splitmix64)
{
	uint64_t state = 0, again = 0;
	double u, sum = 0;
	int i, hits = 0;

	/* Reference values of splitmix64 seeded with 0. */
	cr_assert_eq(sandbox_rng_next(&state), 0xe220a8397b1dcdafULL);
	cr_assert_eq(sandbox_rng_next(&state), 0x6e789e6aa1b965f4ULL);
	state = 42;
	again = 42;
	for (i = 0; i < 100000; i++) {
		u = sandbox_rng_uniform(&state);
		cr_assert(u >= 0.0 && u < 1.0);
		cr_assert_eq(u, sandbox_rng_uniform(&again));
		sum += u;
		hits += sandbox_fault_pick(0.1, 0, 0, u) == SANDBOX_FAULT_FAIL;
	}
	cr_assert(sum / 100000 > 0.49 && sum / 100000 < 0.51);
	cr_assert(hits > 9700 && hits < 10300, "%d", hits);
}

/* ---- email, UTF-8, JSON strings, queries -------------------------------- */

Test(sandbox_api, email_like_django)
{
	static const char *const valid[] = {
		"a@example.com", "first.last+tag@sub.example.co.uk",
		"x@localhost", "LOCALHOST@LocalHost", "o'hara@example.ie",
		"!#$%&'*+-/=?^_`{|}~@example.com",
		"\"quoted name\"@example.com",
		"\"a\\\"b\"@example.com", "a@[127.0.0.1]", "a@[IPv6:::1]",
		"a@xn--bcher-kva.example", "a@b\xc3\xbc" "cher.de",
		"a@example.xn--p1ai", "a@b.c-d", "a@1.2.3.4.com",
		"a@a-b.example.com", "u@example.museum",
	};
	static const char *const invalid[] = {
		"", "plain", "@example.com", "a@", "a@b", "a@.com", "a@b.c",
		"a@example..com", "a@-example.com", "a@example-.com",
		"a@example.com-", "a@example.c_m", ".a@example.com",
		"a.@example.com", "a..b@example.com", "a b@example.com",
		"a@ex ample.com", "a@example.com.", "a(b)@example.com",
		"a,b@example.com", "a@[300.0.0.1]", "a@[IPv6:zz]",
		"\"unterminated@example.com", "j\xc3\xb6rg@example.com",
		"a@b@example.com", "a@exa\tmple.com", "a\n@example.com",
	};
	char long_local[400];
	size_t i;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		cr_assert(sandbox_email_ok(valid[i], strlen(valid[i])),
			  "%s", valid[i]);
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		cr_assert_not(sandbox_email_ok(invalid[i],
					       strlen(invalid[i])),
			      "%s", invalid[i]);
	cr_assert_not(sandbox_email_ok("a\0b@example.com", 15));
	memset(long_local, 'a', sizeof(long_local));
	memcpy(long_local + 300, "@example.com", 12);
	cr_assert(sandbox_email_ok(long_local, 312));
	memcpy(long_local + 310, "@example.com", 12);
	cr_assert_not(sandbox_email_ok(long_local, 322));
}

Test(sandbox_api, utf8)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "", 1 }, { "plain", 1 }, { "\xc3\xa9", 1 },
		{ "\xe2\x82\xac", 1 }, { "\xf0\x9f\x98\x80", 1 },
		{ "\xf4\x8f\xbf\xbf", 1 }, { "\xc3", 0 }, { "\x80", 0 },
		{ "\xc0\xaf", 0 }, { "\xe0\x80\xaf", 0 }, { "\xed\xa0\x80", 0 },
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 },
		{ "\xff", 0 }, { "a\xe2\x82", 0 }, { "\xe2\x28\xa1", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(sandbox_utf8_ok(cases[i].s,
					     strlen(cases[i].s)),
			     cases[i].ok, "case %zu", i);
}

Test(sandbox_api, utf8_lossy)
{
	static const char *const cases[][2] = {
		{ "", "" }, { "plain", "plain" }, { "\xc3\xa9", "\xc3\xa9" },
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "x\xc3", "x\xef\xbf\xbd" },
	};
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		sandbox_utf8_lossy(&b, cases[i][0], strlen(cases[i][0]));
		cr_assert_str_eq(buf_str(&b), cases[i][1], "case %zu", i);
		cr_assert(sandbox_utf8_ok(b.data ? b.data : "", b.len));
	}
	buf_release(&b);
}

Test(sandbox_api, detail)
{
	struct buf b = BUF_INIT;

	sandbox_api_detail(&b, "say \"hi\"\n");
	cr_assert_str_eq(buf_str(&b), "{\"detail\":\"say \\\"hi\\\"\\n\"}");
	sandbox_api_detail(&b, "");
	cr_assert_str_eq(buf_str(&b), "{\"detail\":\"\"}");
	buf_release(&b);
}

Test(sandbox_api, query_strings)
{
	static const char *const cases[][4] = {
		/* query, name, found ("1"/"0"), value */
		{ "status=all", "status", "1", "all" },
		{ "a=1&status=all&b=2", "status", "1", "all" },
		{ "status=active&status=paused", "status", "1", "paused" },
		{ "email=a%40b.com", "email", "1", "a@b.com" },
		{ "email=a%2Bb%40c.com", "email", "1", "a+b@c.com" },
		{ "search=spring+sale", "search", "1", "spring sale" },
		{ "search=100%", "search", "1", "100%" },
		{ "search=%zz%4", "search", "1", "%zz%4" },
		{ "flag", "flag", "1", "" },
		{ "flag&x=1", "flag", "1", "" },
		{ "st%61tus=x", "status", "1", "x" },
		{ "statusx=1", "status", "0", "" },
		{ "", "status", "0", "" },
		{ "&&", "status", "0", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf out = BUF_INIT;
		int found = sandbox_query_get(cases[i][0], cases[i][1],
					      &out);

		cr_assert_eq(found, cases[i][2][0] == '1', "%s", cases[i][0]);
		cr_assert_str_eq(buf_str(&out), cases[i][3], "%s",
				 cases[i][0]);
		buf_release(&out);
	}
	cr_assert_eq(sandbox_query_get(NULL, "x", NULL), 0);
}

Test(sandbox_api, routes)
{
	static const char *const cases[][4] = {
		/* path, route pattern ("" for none), id, method */
		{ "/ping/", "/ping/", "", "GET" },
		{ "/contacts/upsert/", "/contacts/upsert/", "", "POST" },
		{ "/contacts/abc-1/add_tag/", "/contacts/*/add_tag/", "abc-1",
		  "POST" },
		{ "/contacts/abc/remove_tag/", "/contacts/*/remove_tag/",
		  "abc", "POST" },
		{ "/contacts/api/unsubscribed-emails/",
		  "/contacts/api/unsubscribed-emails/", "", "GET" },
		{ "/sequences/api/bulk-enroll/", "/sequences/api/bulk-enroll/",
		  "", "POST" },
		{ "/ping", "", "", "" },
		{ "/ping//", "", "", "" },
		{ "/contacts//add_tag/", "", "", "" },
		{ "/contacts/a/b/add_tag/", "", "", "" },
		{ "/contacts/upsert/x", "", "", "" },
		{ "", "", "", "" },
		{ "/", "", "", "" },
	};
	const struct sandbox_route *route;
	char id[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		route = sandbox_api_route(cases[i][0], id, sizeof(id));
		if (!cases[i][1][0]) {
			cr_assert_null(route, "%s", cases[i][0]);
			continue;
		}
		cr_assert_not_null(route, "%s", cases[i][0]);
		cr_assert_str_eq(route->path, cases[i][1]);
		cr_assert_str_eq(id, cases[i][2]);
		cr_assert(sandbox_api_method_ok(route, cases[i][3]));
		cr_assert_not(sandbox_api_method_ok(route, "PUT"));
	}
	route = sandbox_api_route("/ping/", id, sizeof(id));
	cr_assert(sandbox_api_method_ok(route, "HEAD"));
	route = sandbox_api_route("/contacts/upsert/", id, sizeof(id));
	cr_assert_not(sandbox_api_method_ok(route, "HEAD"));
	/* An id longer than the buffer matches nothing. */
	cr_assert_null(sandbox_api_route("/contacts/0123456789/add_tag/", id,
					 8));
}

/* ---- store and endpoints on an in-memory database ----------------------- */

static struct sandbox_store store;

/* Slots sandbox_api does not use (it takes the lowest ones). */
#define TEST_SLOT (SANDBOX_STORE_PUBLIC_SLOTS - 1)

static void store_setup(void)
{
	struct err e = ERR_INIT;

	cr_assert_eq(sandbox_store_open(&store, NULL, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(sandbox_store_put_sequence(&store, "onboarding",
						"Onboarding", "active", &e),
		     MB_OK);
	cr_assert_eq(sandbox_store_put_unsubscribed(&store, "gone@example.com",
						    &e), MB_OK);
}

static void store_teardown(void)
{
	sandbox_store_close(&store);
	cr_assert_null(store.db);
}

static int count(const char *sql)
{
	sqlite3_stmt *s;
	int n;

	cr_assert_eq(sqlite3_prepare_v2(store.db, sql, -1, &s, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Serve one call against the store; returns the status. */
static int serve(const char *method, const char *path, const char *body,
		 struct sandbox_call *call)
{
	static char id[64];
	struct err e = ERR_INIT;

	sandbox_call_release(call);
	call->route = sandbox_api_route(path, id, sizeof(id));
	cr_assert_not_null(call->route, "%s", path);
	call->method = method;
	call->id = id;
	call->content_type = "application/json";
	call->body = body;
	call->body_len = strlen(body);
	call->key_label = "key1";
	call->scopes = SANDBOX_SCOPE_ALL;
	call->now = 1700000000.25;
	cr_assert_eq(sandbox_store_request_begin(&store, &e), MB_OK);
	cr_assert_eq(sandbox_api_handle(&store, call, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(sandbox_store_request_end(&store, 1, &e), MB_OK);
	return call->status;
}

TestSuite(sandbox_store, .init = store_setup, .fini = store_teardown);

Test(sandbox_store, uuids_are_v7_ordered_and_unique)
{
	char a[37], b[37];
	int i;

	sandbox_store_uuid(&store, a);
	cr_assert_eq(strlen(a), 36);
	cr_assert_eq(a[8], '-');
	cr_assert_eq(a[13], '-');
	cr_assert_eq(a[14], '7');
	cr_assert(strchr("89ab", a[19]));
	for (i = 0; i < 1000; i++) {
		sandbox_store_uuid(&store, b);
		cr_assert_neq(strcmp(a, b), 0);
		cr_assert_leq(memcmp(a, b, 8), 0);
		memcpy(a, b, sizeof(a));
	}
}

Test(sandbox_store, failed_request_leaves_nothing)
{
	struct err e = ERR_INIT;
	struct sqlite3_stmt *s;

	cr_assert_eq(sandbox_store_request_begin(&store, &e), MB_OK);
	s = sandbox_store_stmt(&store, TEST_SLOT, "INSERT INTO"
			       " unsubscribed(email) VALUES('x@example.com')",
			       &e);
	cr_assert_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_reset(s);
	cr_assert_eq(sandbox_store_request_end(&store, 0, &e), MB_OK);
	cr_assert_eq(sandbox_store_commit(&store, &e), MB_OK);
	cr_assert_eq(count("SELECT count(*) FROM unsubscribed"), 1);
	cr_assert_null(sandbox_store_stmt(&store, TEST_SLOT - 1,
					  "SELECT nonsense", &e));
	cr_assert_eq(e.rc, MB_EDB);
	cr_assert(strstr(e.msg, "no such column"), "%s", e.msg);
}

Test(sandbox_store, log_rows)
{
	struct sandbox_log_row row = { 1700000000.123, "POST",
		"/api/v1/contacts/upsert/", NULL, "key1", 0, 201, 3, "lost_ack",
		"[\"a@example.com\"]", "{}\xff", 3, 0 };
	struct err e = ERR_INIT;

	cr_assert_eq(sandbox_store_log(&store, &row, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(count("SELECT count(*) FROM requests WHERE status = 0"
			   " AND app_status = 201 AND fault = 'lost_ack'"
			   " AND typeof(body) = 'blob' AND query IS NULL"
			   " AND ts = 1700000000.123"), 1);
}

Test(sandbox_store, upsert_create_update_and_errors)
{
	struct sandbox_call call = SANDBOX_CALL_INIT;

	cr_assert_eq(serve("POST", "/contacts/upsert/",
			   "{\"email\":\"A@Example.com\",\"tag_names\":[\"t\"],"
			   "\"custom_fields\":{\"x\":1}}", &call), 201);
	cr_assert(strstr(buf_str(&call.response),
			 "\"email\":\"a@example.com\""));
	cr_assert(strstr(buf_str(&call.response),
			 "\"created_at\":\"2023-11-14T22:13:20.250Z\""),
		  "%s", buf_str(&call.response));
	cr_assert_str_eq(buf_str(&call.emails), "[\"A@Example.com\"]");
	cr_assert_eq(serve("POST", "/contacts/upsert/",
			   "{\"email\":\"a@example.com\",\"custom_fields\":"
			   "{\"y\":true}}", &call), 200);
	cr_assert(strstr(buf_str(&call.response),
			 "\"custom_fields\":{\"x\":1,\"y\":true}"));
	cr_assert_eq(serve("POST", "/contacts/upsert/", "{\"email\":1}",
			   &call), 400);
	cr_assert_str_eq(buf_str(&call.response),
			 "{\"email\":[\"Enter a valid email address.\"]}");
	cr_assert_eq(serve("POST", "/contacts/upsert/", "{\"email\":", &call),
		     400);
	cr_assert_eq(serve("POST", "/contacts/upsert/", "\"x\"", &call), 400);
	cr_assert_str_eq(buf_str(&call.response), "{\"non_field_errors\":"
			 "[\"Invalid data. Expected a dictionary, but got "
			 "str.\"]}");
	cr_assert_eq(serve("POST", "/contacts/upsert/",
			   "{\"email\":\"a@example.com\",\"x\":\"\\\\u0000\"}",
			   &call), 200);
	cr_assert_eq(serve("POST", "/contacts/upsert/",
			   "{\"email\":\"a@example.com\",\"x\":\"\\u0000\"}",
			   &call), 400);
	cr_assert_eq(count("SELECT count(*) FROM contacts"), 1);
	sandbox_call_release(&call);
	cr_assert_null(call.response.data);
	cr_assert_null(call.emails.data);
}

Test(sandbox_store, content_type_checked_before_the_body)
{
	struct sandbox_call call = SANDBOX_CALL_INIT;
	struct err e = ERR_INIT;
	char id[8];

	call.route = sandbox_api_route("/contacts/upsert/", id, sizeof(id));
	call.method = "POST";
	call.content_type = "application/jsonx";
	call.body = "{";
	call.body_len = 1;
	cr_assert_eq(sandbox_api_handle(&store, &call, &e), MB_OK);
	cr_assert_eq(call.status, 415);
	call.content_type = "Application/JSON; charset=utf-8";
	cr_assert_eq(sandbox_api_handle(&store, &call, &e), MB_OK);
	cr_assert_eq(call.status, 400);
	sandbox_call_release(&call);
}

Test(sandbox_store, bulk_enroll_outcomes)
{
	struct sandbox_call call = SANDBOX_CALL_INIT;

	cr_assert_eq(serve("POST", "/sequences/api/bulk-enroll/",
			   "{\"sequence_slug\":\"onboarding\",\"emails\":"
			   "[\"a@example.com\",\"gone@example.com\",\"x\","
			   "\"A@example.com\"]}", &call), 200);
	cr_assert_str_eq(buf_str(&call.response),
			 "{\"sequence_slug\":\"onboarding\",\"enrolled\":1,"
			 "\"skipped\":3,\"results\":["
			 "{\"email\":\"a@example.com\",\"status\":"
			 "\"enrolled\"},"
			 "{\"email\":\"gone@example.com\",\"status\":"
			 "\"suppressed\"},"
			 "{\"email\":\"x\",\"status\":\"invalid_email\"},"
			 "{\"email\":\"A@example.com\",\"status\":"
			 "\"already_enrolled\"}]}");
	cr_assert_eq(count("SELECT count(*) FROM contacts"), 1);
	cr_assert_eq(count("SELECT count(*) FROM enrollments"), 1);
	sandbox_call_release(&call);
}
