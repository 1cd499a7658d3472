/*
 * trace: the lines of one request (sends, errors, bodies, the key
 * redacted, the query dropped), the file (0600, appended) and -v's line.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "trace.h"
#include "tmpdir.h"

#define KEY "meisa_live_SECRET"

TestSuite(trace, .init = tmpdir_make, .fini = tmpdir_remove);

static struct http_request *answered(const char *path, const char *body,
				     long status, const char *response)
{
	struct http_request *req = http_request_new("POST", path, body,
						    body ? strlen(body) : 0,
						    NULL);

	req->status = status;
	buf_addstr(&req->response, response);
	req->sends = 1;
	req->attempt = 1;
	req->sent_wall_ms = INT64_C(1796230651381);
	req->total_time_s = 0.0384;
	req->about = "contact";
	req->about_id = 123;
	return req;
}

static char *format(const struct http_request *req, int bodies)
{
	struct buf out = BUF_INIT;

	cr_assert_eq(trace_format(&out, req, bodies, KEY), MB_OK);
	return buf_detach(&out, NULL);
}

Test(trace, one_line_without_bodies)
{
	struct http_request *req = answered("/contacts/upsert/?x=" KEY,
					    "{\"k\":1}", 201, "{\"id\":9}");
	char *line = format(req, 0);

	cr_assert_str_eq(line, "{\"time\":\"2026-12-02T16:57:31.381Z\","
		"\"method\":\"POST\",\"path\":\"/contacts/upsert/\","
		"\"status\":201,\"error\":null,\"latency_ms\":38,"
		"\"attempt\":1,\"send\":1,\"sends\":1,\"contact\":123,"
		"\"bytes_sent\":7,\"bytes_received\":8}\n");
	free(line);
	http_request_free(req);
}

Test(trace, a_resend_is_a_line_of_its_own)
{
	struct http_request *req = answered("/ping/", NULL, 200, "{}");
	char *text;

	req->sends = 2;
	text = format(req, 1);
	cr_assert_not_null(strstr(text, "\"send\":1,\"sends\":2"));
	cr_assert_not_null(strstr(text, "\"send\":2,\"sends\":2"));
	cr_assert_not_null(strstr(text, "libcurl sent the request again"));
	cr_assert_not_null(strstr(text, "\"response_body\":null}\n"));
	cr_assert_not_null(strstr(text, "\"response_body\":\"{}\"}\n"));
	free(text);
	http_request_free(req);
}

Test(trace, bodies_redact_the_key_and_bad_utf8)
{
	struct http_request *req = answered("/x/", "{\"k\":\"" KEY "\"}", 400,
					    "echo " KEY " \xff\n");
	char *text = format(req, 1);

	cr_assert_null(strstr(text, KEY));
	cr_assert_not_null(strstr(text, "\"request_body\":\"{\\\"k\\\":"
				  "\\\"[redacted]\\\"}\""));
	cr_assert_not_null(strstr(text, "\"response_body\":\"echo [redacted]"
				  " \xEF\xBF\xBD\\n\"}\n"));
	free(text);
	http_request_free(req);
}

Test(trace, transport_error_and_no_send)
{
	struct http_request *req = answered("/ping/", NULL, 0, "");
	char *text;

	req->sends = 0;
	req->curl_code = 7;
	snprintf(req->errbuf, sizeof(req->errbuf), "Couldn't \"connect\"");
	text = format(req, 0);
	cr_assert_not_null(strstr(text, "\"status\":null,\"error\":{\"curl\""
				  ":7,\"text\":\"Couldn't \\\"connect\\\"\"}"));
	cr_assert_not_null(strstr(text, "\"send\":0,\"sends\":0"));
	cr_assert_eq(strchr(text, '\n'), text + strlen(text) - 1);
	free(text);
	http_request_free(req);
}

Test(trace, file_is_0600_and_appended)
{
	struct http_request *req = answered("/ping/", NULL, 200, "{}");
	const char *path = tmpdir_path("t.jsonl");
	struct err e = ERR_INIT;
	struct trace *t = NULL;
	char text[2048];
	struct stat st;
	size_t n;
	FILE *f;
	int i;

	for (i = 0; i < 2; i++) {
		cr_assert_eq(trace_open(&t, path, 0, KEY, &e), MB_OK, "%s",
			     e.msg);
		cr_assert_eq(trace_request(t, req, &e), MB_OK, "%s", e.msg);
		trace_close(t);
	}
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	cr_assert_not_null(strchr(text, '\n'));
	cr_assert_not_null(strchr(strchr(text, '\n') + 1, '\n'));
	http_request_free(req);
}

Test(trace, open_failure_names_the_file)
{
	struct err e = ERR_INIT;
	struct trace *t = (struct trace *)1;

	cr_assert_eq(trace_open(&t, tmpdir_path("no/such/t.jsonl"), 0, NULL,
				&e), MB_EIO);
	cr_assert_null(t);
	cr_assert_not_null(strstr(e.msg, "no/such/t.jsonl"));
}

Test(trace, summary_for_verbose)
{
	struct http_request *req = answered("/contacts/upsert/?q=1", "{}",
					    201, "{}");
	char line[256];

	trace_summary(req, line, sizeof(line));
	cr_assert_str_eq(line, "POST /contacts/upsert/ 201 38ms contact 123"
			 " attempt 1");
	req->sends = 3;
	req->status = 0;
	snprintf(req->errbuf, sizeof(req->errbuf), "timeout");
	req->about = NULL;
	trace_summary(req, line, sizeof(line));
	cr_assert_str_eq(line, "POST /contacts/upsert/ error (timeout) 38ms"
			 " attempt 1, sent 3 times");
	http_request_free(req);
}
