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
