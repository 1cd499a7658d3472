/*
 * meisa: the one verdict on an answer, shared by meisa_call and the upsert
 * loop (issue 13 item 6: 3xx, 408 and 425 made contacts failed).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <string.h>

#include "meisa.h"

static enum meisa_verdict verdict(long status, int curl_code)
{
	struct http_request *req = http_request_new("GET", "/ping/", NULL, 0,
						    NULL);
	enum meisa_verdict v;

	req->status = status;
	req->curl_code = curl_code;
	v = meisa_classify(req);
	http_request_free(req);
	return v;
}

Test(meisa, classify_every_kind_of_answer)
{
	static const struct {
		long status;
		int curl_code;
		enum meisa_verdict want;
	} cases[] = {
		{ 200, 0, MEISA_DONE }, { 201, 0, MEISA_DONE },
		{ 204, 0, MEISA_DONE },
		{ 400, 0, MEISA_REFUSED }, { 404, 0, MEISA_REFUSED },
		{ 422, 0, MEISA_REFUSED },
		{ 401, 0, MEISA_AUTH }, { 403, 0, MEISA_AUTH },
		{ 429, 0, MEISA_THROTTLED },
		{ 408, 0, MEISA_RETRY }, { 425, 0, MEISA_RETRY },
		{ 500, 0, MEISA_RETRY }, { 502, 0, MEISA_RETRY },
		{ 503, 0, MEISA_RETRY }, { 504, 0, MEISA_RETRY },
		{ 0, CURLE_COULDNT_CONNECT, MEISA_RETRY },
		{ 0, CURLE_OPERATION_TIMEDOUT, MEISA_RETRY },
		{ 301, 0, MEISA_REDIRECT }, { 302, 0, MEISA_REDIRECT },
		{ 307, 0, MEISA_REDIRECT }, { 308, 0, MEISA_REDIRECT },
		{ 0, CURLE_PEER_FAILED_VERIFICATION, MEISA_TLS },
		{ 0, CURLE_SSL_CACERT_BADFILE, MEISA_TLS },
		{ 0, CURLE_SSL_PINNEDPUBKEYNOTMATCH, MEISA_TLS },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(verdict(cases[i].status, cases[i].curl_code),
			     cases[i].want, "status %ld, curl %d",
			     cases[i].status, cases[i].curl_code);
}

Test(meisa, redirect_message_names_the_location)
{
	struct http_request *req = http_request_new("POST", "/x/", NULL, 0,
						    NULL);
	struct err e = ERR_INIT;

	req->status = 302;
	strcpy(req->location, "https://elsewhere.example/api/v1/x/");
	cr_assert_eq(meisa_stop_error(req, MEISA_REDIRECT, &e),
		     MB_EUNAVAILABLE);
	cr_assert(strstr(e.msg, "redirect to https://elsewhere.example/api/"
			 "v1/x/; check MEISA_BASE_URL"), "%s", e.msg);
	http_request_free(req);
}

/*
 * The parallel path through meisa's functions (issue 14 item 2: push
 * reached into struct meisa for the transport, the limiter and the
 * counters).
 */
static void open_api(struct meisa *m, const char *rate, sqlite3 *json)
{
	struct meisa_opts opts = MEISA_OPTS_INIT;
	struct err e = ERR_INIT;

	opts.base_url = "http://127.0.0.1:9/api/v1";
	opts.api_key = "meisa_test_unit";
	opts.rate = rate;
	cr_assert_eq(meisa_open(m, &opts, json, &e), MB_OK, "%s", e.msg);
}

Test(meisa, a_fresh_api_has_sent_nothing)
{
	struct meisa_counters c = { 1, 1, 1 };
	struct meisa m;

	open_api(&m, "none", NULL);
	meisa_counters(&m, &c);
	cr_expect_eq(c.requests, 0);
	cr_expect_eq(c.retries, 0);
	cr_expect_eq(c.throttled, 0);
	cr_expect_eq(meisa_requests(&m), 0);
	cr_expect_eq(meisa_in_flight(&m), 0);
	cr_expect_null(meisa_next_done(&m));
	cr_expect_eq(meisa_limited(&m), 0);
	cr_expect_eq(meisa_horizon_ms(&m), 0);
	cr_expect_eq(meisa_limit_wait_ms(&m, 1000), 0);
	meisa_close(&m);
}

Test(meisa, replayed_sends_fill_the_windows_uncounted)
{
	struct meisa m;

	open_api(&m, "2/h", NULL);
	cr_expect_eq(meisa_limited(&m), 1);
	cr_expect_geq(meisa_horizon_ms(&m), 3600000);
	meisa_replay_send(&m, 1000);
	meisa_replay_send(&m, 2000);
	cr_expect_gt(meisa_limit_wait_ms(&m, 3000), 0);
	cr_expect_gt(meisa_estimate_ms(&m, 1, 3000), 0);
	cr_expect_eq(meisa_requests(&m), 0);
	meisa_close(&m);
}

static void sequence_status(sqlite3 *json, const char *list,
			    const char *slug, const char *want)
{
	struct buf l = BUF_INIT, status = BUF_INIT;
	struct err e = ERR_INIT;
	struct meisa m;

	open_api(&m, "none", json);
	cr_assert_eq(buf_addstr(&l, list), MB_OK);
	cr_assert_eq(meisa_sequence_status(&m, &l, slug, &status, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_str_eq(buf_str(&status), want, "slug %s", slug);
	meisa_close(&m);
	buf_release(&l);
	buf_release(&status);
}

Test(meisa, sequence_status_finds_the_slug)
{
	static const char list[] = "[{\"slug\": \"onboarding\", \"status\":"
		" \"paused\"}, {\"slug\": \"a\\\"b\", \"status\": \"active\"},"
		" {\"slug\": \"nostatus\", \"status\": null}]";
	sqlite3 *json = NULL;

	cr_assert_eq(sqlite3_open(":memory:", &json), SQLITE_OK);
	sequence_status(json, list, "onboarding", "paused");
	sequence_status(json, list, "a\"b", "active");
	sequence_status(json, list, "nostatus", "active");
	sequence_status(json, list, "missing", "");
	sequence_status(json, "[]", "onboarding", "");
	sqlite3_close(json);
}
