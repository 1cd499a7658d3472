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

/* A meisa that never sends: for reading answers. */
static void open_offline(struct meisa **m)
{
	struct meisa_opts o = MEISA_OPTS_INIT;
	struct err e = ERR_INIT;

	o.base_url = "http://127.0.0.1:9/api/v1";
	o.api_key = "meisa_test_unit";
	cr_assert_eq(meisa_open(m, &o, &e), MB_OK, "%s", e.msg);
}

/* Regression: cmd/ opened an unchecked :memory: database to read these. */
Test(meisa, reads_lists_on_its_own_connection)
{
	struct meisa *m = NULL;
	struct meisa_sequence_list seqs = MEISA_SEQUENCE_LIST_INIT;
	struct meisa_strings emails = MEISA_STRINGS_INIT;
	struct err e = ERR_INIT;

	open_offline(&m);
	cr_assert_eq(meisa_sequence_list(m, "[{\"slug\":\"a\",\"name\":\"A\","
			 "\"status\":\"active\"},{\"slug\":\"b\",\"name\":null,"
			 "\"status\":\"paused\"}]", &seqs, &e), MB_OK, "%s",
		     e.msg);
	cr_assert_eq(seqs.count, 2);
	cr_expect_str_eq(seqs.items[0].name, "A");
	cr_expect_str_eq(seqs.items[1].slug, "b");
	cr_expect_str_eq(seqs.items[1].name, "");
	cr_expect_str_eq(seqs.items[1].status, "paused");
	cr_assert_eq(meisa_unsubscribed_emails(m, "{\"as_of\":null,\"count\":"
			 "2,\"emails\":[\"z@x.io\",\"a@x.io\"]}", &emails, &e),
		     MB_OK, "%s", e.msg);
	cr_assert_eq(emails.count, 2);
	cr_expect_str_eq(emails.items[0], "a@x.io");
	cr_expect_str_eq(emails.items[1], "z@x.io");
	meisa_close(m);
	meisa_sequence_list_release(&seqs);
	meisa_strings_release(&emails);
	cr_expect_eq(seqs.count, 0);
	cr_expect_null(seqs.items);
	cr_expect_eq(emails.count, 0);
	cr_expect_null(emails.items);
}

Test(meisa, a_list_that_cannot_be_read_is_an_error)
{
	struct meisa *m = NULL;
	struct meisa_sequence_list seqs = MEISA_SEQUENCE_LIST_INIT;
	struct err e = ERR_INIT;

	open_offline(&m);
	/* json_each refuses a malformed text while stepping. */
	cr_assert_eq(meisa_sequence_list(m, "[{\"slug\":", &seqs, &e),
		     MB_EINTERNAL);
	cr_expect(strstr(e.msg, "cannot read answer") != NULL, "%s", e.msg);
	cr_expect_eq(seqs.count, 0);
	meisa_close(m);
}

/*
 * The parallel path through meisa's functions (issue 14 item 2: push
 * reached into struct meisa for the transport, the limiter and the
 * counters).
 */
static void open_api(struct meisa **m, const char *rate)
{
	struct meisa_opts opts = MEISA_OPTS_INIT;
	struct err e = ERR_INIT;

	opts.base_url = "http://127.0.0.1:9/api/v1";
	opts.api_key = "meisa_test_unit";
	opts.rate = rate;
	cr_assert_eq(meisa_open(m, &opts, &e), MB_OK, "%s", e.msg);
}

Test(meisa, a_fresh_api_has_sent_nothing)
{
	struct meisa_counters c = { 1, 1, 1 };
	struct meisa *m = NULL;

	open_api(&m, "none");
	meisa_counters(m, &c);
	cr_expect_eq(c.requests, 0);
	cr_expect_eq(c.retries, 0);
	cr_expect_eq(c.throttled, 0);
	cr_expect_eq(meisa_requests(m), 0);
	cr_expect_eq(meisa_in_flight(m), 0);
	cr_expect_null(meisa_next_done(m));
	cr_expect_eq(meisa_limited(m), 0);
	cr_expect_eq(meisa_horizon_ms(m), 0);
	cr_expect_eq(meisa_limit_wait_ms(m, 1000), 0);
	meisa_close(m);
}

Test(meisa, replayed_sends_fill_the_windows_uncounted)
{
	struct meisa *m = NULL;

	open_api(&m, "2/h");
	cr_expect_eq(meisa_limited(m), 1);
	cr_expect_geq(meisa_horizon_ms(m), 3600000);
	meisa_replay_send(m, 1000);
	meisa_replay_send(m, 2000);
	cr_expect_gt(meisa_limit_wait_ms(m, 3000), 0);
	cr_expect_gt(meisa_estimate_ms(m, 1, 3000), 0);
	cr_expect_eq(meisa_requests(m), 0);
	meisa_close(m);
}

static void sequence_status(const char *list,
			    const char *slug, const char *want)
{
	struct buf l = BUF_INIT, status = BUF_INIT;
	struct err e = ERR_INIT;
	struct meisa *m = NULL;

	open_api(&m, "none");
	cr_assert_eq(buf_addstr(&l, list), MB_OK);
	cr_assert_eq(meisa_sequence_status(m, &l, slug, &status, &e), MB_OK,
		     "%s", e.msg);
	cr_expect_str_eq(buf_str(&status), want, "slug %s", slug);
	meisa_close(m);
	buf_release(&l);
	buf_release(&status);
}

Test(meisa, sequence_status_finds_the_slug)
{
	static const char list[] = "[{\"slug\": \"onboarding\", \"status\":"
		" \"paused\"}, {\"slug\": \"a\\\"b\", \"status\": \"active\"},"
		" {\"slug\": \"nostatus\", \"status\": null}]";

	sequence_status(list, "onboarding", "paused");
	sequence_status(list, "a\"b", "active");
	sequence_status(list, "nostatus", "active");
	sequence_status(list, "missing", "");
	sequence_status("[]", "onboarding", "");
}
