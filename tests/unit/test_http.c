/*
 * http: the transport against a small libmicrohttpd server run inside the
 * test, scripted by path:
 *
 *   /echo            200 {"key":true|false,"method":"..","body":<body>}
 *   /status/N        status N, {"detail":"status N"}
 *   /429ra           429 with Retry-After: 2
 *   /429date         429 with Retry-After: an HTTP date 3 s ahead
 *   /429             429 without Retry-After
 *   /delay/MS        200 "MS" after MS milliseconds
 *   /slow            200 after 5 s (cut short when the test stops)
 *   /huge            5 MiB with a Content-Length
 *   /huge-chunked    5 MiB chunked (no length known in advance)
 *   /max             exactly HTTP_RESPONSE_MAX bytes
 *   /drop            the connection closed without an answer
 *
 * The server counts the connections it accepts, to check reuse, and keeps
 * what it saw of the last request's headers (the key's presence and
 * correctness, never its value).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"

#define KEY "meisa_test_s3cr3t_key_0123456789"
#define HUGE_LEN ((size_t)5 << 20)

struct seen {
	int key_present, key_ok, expect_present;
	char method[16], user_agent[128], content_type[128], accept[128];
	size_t body_len;
};

static struct server {
	struct MHD_Daemon *daemon;
	unsigned port;
	char base_url[64];
	atomic_int connections;
	atomic_int requests;
	atomic_int stopping;
	pthread_mutex_t lock;
	struct seen last;
	char *huge;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms in small steps, cut short when the server stops. */
static void nap(long ms)
{
	struct timespec step = { 0, 5 * 1000000 };

	for (; ms > 0 && !atomic_load(&srv.stopping); ms -= 5)
		nanosleep(&step, NULL);
}

static void copy_header(struct MHD_Connection *c, const char *name, char *out,
			size_t size)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

	snprintf(out, size, "%s", v ? v : "");
}

static void remember(struct MHD_Connection *c, const char *method,
		     size_t body_len)
{
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "X-API-Key");
	struct seen s;

	memset(&s, 0, sizeof(s));
	s.key_present = key != NULL;
	s.key_ok = key && !strcmp(key, KEY);
	s.expect_present = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       "Expect") != NULL;
	snprintf(s.method, sizeof(s.method), "%s", method);
	copy_header(c, "User-Agent", s.user_agent, sizeof(s.user_agent));
	copy_header(c, "Content-Type", s.content_type, sizeof(s.content_type));
	copy_header(c, "Accept", s.accept, sizeof(s.accept));
	s.body_len = body_len;
	pthread_mutex_lock(&srv.lock);
	srv.last = s;
	pthread_mutex_unlock(&srv.lock);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *body, size_t len,
			     const char *retry_after)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
					    MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static ssize_t chunked_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)cls;
	if (pos >= HUGE_LEN || atomic_load(&srv.stopping))
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > HUGE_LEN - pos)
		max = (size_t)(HUGE_LEN - pos);
	memset(out, 'x', max);
	return (ssize_t)max;
}

static enum MHD_Result reply_large(struct MHD_Connection *c, size_t len,
				   int chunked)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (chunked)
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
						      64 * 1024,
						      chunked_reader, NULL,
						      NULL);
	else
		r = MHD_create_response_from_buffer(len, srv.huge,
						    MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url,
			     const char *method, struct buf *body)
{
	struct buf out = BUF_INIT;
	enum MHD_Result ret;
	char date[64];
	time_t t;
	long n;

	remember(c, method, body->len);
	if (!strcmp(url, "/echo")) {
		buf_printf(&out, "{\"key\":%s,\"method\":\"%s\",\"body\":",
			   srv.last.key_ok ? "true" : "false", method);
		buf_add(&out, body->len ? buf_str(body) : "null",
			body->len ? body->len : 4);
		buf_addch(&out, '}');
		ret = reply(c, 200, buf_str(&out), out.len, NULL);
		buf_release(&out);
		return ret;
	}
	if (sscanf(url, "/status/%ld", &n) == 1) {
		buf_printf(&out, "{\"detail\":\"status %ld\"}", n);
		ret = reply(c, (unsigned)n, buf_str(&out), out.len, NULL);
		buf_release(&out);
		return ret;
	}
	if (!strcmp(url, "/429ra"))
		return reply(c, 429, "{}", 2, "2");
	if (!strcmp(url, "/429"))
		return reply(c, 429, "{}", 2, NULL);
	if (!strcmp(url, "/429date")) {
		t = time(NULL) + 3;
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
			 gmtime(&t));
		return reply(c, 429, "{}", 2, date);
	}
	if (sscanf(url, "/delay/%ld", &n) == 1) {
		nap(n);
		return reply(c, 200, url + 7, strlen(url + 7), NULL);
	}
	if (!strcmp(url, "/slow")) {
		nap(5000);
		return reply(c, 200, "{}", 2, NULL);
	}
	if (!strcmp(url, "/huge"))
		return reply_large(c, HUGE_LEN, 0);
	if (!strcmp(url, "/huge-chunked"))
		return reply_large(c, HUGE_LEN, 1);
	if (!strcmp(url, "/max"))
		return reply_large(c, HTTP_RESPONSE_MAX, 0);
	return reply(c, 404, "{\"detail\":\"no route\"}", 21, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *data_size, void **state)
{
	struct buf *body = *state;

	(void)cls;
	(void)version;
	if (!body) {
		if (!strcmp(url, "/drop"))
			return MHD_NO;
		body = malloc(sizeof(*body));
		buf_init(body, (size_t)16 << 20);
		*state = body;
		atomic_fetch_add(&srv.requests, 1);
		return MHD_YES;
	}
	if (*data_size) {
		buf_add(body, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	return route(c, url, method, body);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	struct buf *body = *state;

	(void)cls;
	(void)c;
	(void)toe;
	if (body) {
		buf_release(body);
		free(body);
		*state = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&srv.connections, 1);
}

static void server_start(void)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.huge = malloc(HUGE_LEN);
	memset(srv.huge, 'y', HUGE_LEN);
	srv.daemon = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD |
				      MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
				      NULL, on_request, NULL,
				      MHD_OPTION_SOCK_ADDR, &sa,
				      MHD_OPTION_NOTIFY_COMPLETED,
				      on_completed, NULL,
				      MHD_OPTION_NOTIFY_CONNECTION,
				      on_connection, NULL, MHD_OPTION_END);
	cr_assert_not_null(srv.daemon, "cannot start the test server");
	info = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv.port = info->port;
	cr_assert_gt(srv.port, 0);
	snprintf(srv.base_url, sizeof(srv.base_url), "http://127.0.0.1:%u/",
		 srv.port);
}

static void server_stop(void)
{
	atomic_store(&srv.stopping, 1);
	if (srv.daemon)
		MHD_stop_daemon(srv.daemon);
	srv.daemon = NULL;
	free(srv.huge);
	srv.huge = NULL;
}

static struct seen server_seen(void)
{
	struct seen s;

	pthread_mutex_lock(&srv.lock);
	s = srv.last;
	pthread_mutex_unlock(&srv.lock);
	return s;
}

static void open_h(struct http *h, size_t max_connections, long timeout_ms)
{
	struct http_opts o = HTTP_OPTS_INIT;
	struct err e = ERR_INIT;

	o.base_url = srv.base_url;
	o.api_key = KEY;
	o.max_connections = max_connections;
	o.timeout_ms = timeout_ms;
	cr_assert_eq(http_open(h, &o, &e), MB_OK, "%s", e.msg);
}

/* One blocking request; the caller frees it. */
static struct http_request *do_req(struct http *h, const char *method,
				   const char *path, const char *body)
{
	struct http_request *req = http_request_new(method, path, body,
						    body ? strlen(body) : 0,
						    NULL);
	struct err e = ERR_INIT;

	cr_assert_eq(http_do(h, req, &e), MB_OK, "%s: %s", path, e.msg);
	return req;
}

static void assert_closed(const struct http *h)
{
	cr_assert_null(h->multi);
	cr_assert_null(h->headers);
	cr_assert_null(h->base_url);
	cr_assert_null(h->idle);
	cr_assert_null(h->flying);
	cr_assert_null(h->done_head);
	cr_assert_null(h->done_tail);
	cr_assert_null(h->url.data);
	cr_assert_eq(h->nidle, 0);
	cr_assert_eq(h->in_flight, 0);
}

/* Wait until nothing is in flight, without collecting. */
static void drain(struct http *h)
{
	struct err e = ERR_INIT;
	int64_t give_up = now_ms() + 20000;

	while (http_in_flight(h) && now_ms() < give_up)
		cr_assert_eq(http_wait(h, 1000, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(http_in_flight(h), 0);
}

TestSuite(http, .init = server_start, .fini = server_stop, .timeout = 60);

/* ------------------------------------------------------ Retry-After */

Test(retry_after, parse_table)
{
	/* 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example). */
	static const struct {
		const char *value;
		int64_t now_s, want;
	} cases[] = {
		{ "0", 0, 0 },
		{ "2", 0, 2000 },
		{ "120", 0, 120000 },
		{ "  7 \r\n", 0, 7000 },
		{ "\t30", 0, 30000 },
		{ "007", 0, 7000 },
		{ "86400", 0, 86400000 },
		{ "86401", 0, 86400000 },              /* capped at a day */
		{ "99999999999999999999999999", 0, 86400000 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 120, 120000 },
		{ "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 - 60, 60000 },
		{ "Sun Nov  6 08:49:37 1994", 784111777 - 5, 5000 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT\r\n", 784111777 - 1, 1000 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777, 0 },
		/* in the past: now */
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 99, 0 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 0, 86400000 },      /* far */
		{ "", 0, -1 },
		{ "   ", 0, -1 },
		{ "-1", 0, -1 },
		{ "-120", 0, -1 },
		{ "+5", 0, -1 },
		{ "1.5", 0, -1 },
		{ "5s", 0, -1 },
		{ "5 6", 0, -1 },
		{ "0x10", 0, -1 },
		{ "soon", 0, -1 },
		{ "tomorrow", 0, -1 },
		{ "Xyz, 99 Foo 1994 99:99:99 GMT", 0, -1 },
		{ "(Sun, 06 Nov 1994 08:49:37 GMT)", 784111777 - 5, -1 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT and a very long tail of "
		  "junk that goes on past any sane date", 0, -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(http_parse_retry_after(cases[i].value,
						    cases[i].now_s),
			     cases[i].want, "'%s': got %lld, want %lld",
			     cases[i].value,
			     (long long)http_parse_retry_after(cases[i].value,
							       cases[i].now_s),
			     (long long)cases[i].want);
	cr_expect_eq(http_parse_retry_after(NULL, 0), -1);
}

/* ------------------------------------------------------- open, close */

Test(http_open, rejects_bad_options)
{
	static const struct {
		const char *url, *key;
		enum mb_rc rc;
		const char *msg;
	} cases[] = {
		{ NULL, KEY, MB_EUSAGE, "no API base URL" },
		{ "", KEY, MB_EUSAGE, "no API base URL" },
		{ "ftp://x/", KEY, MB_EUSAGE,
		  "invalid API base URL 'ftp://x/'" },
		{ "api.meisa.io", KEY, MB_EUSAGE,
		  "expected http:// or https://" },
		{ "http://a b/", KEY, MB_EUSAGE, "contains a space" },
		{ "https://", KEY, MB_EUSAGE, "'https://': no host" },
		{ "http:///api", KEY, MB_EUSAGE, "no host" },
		{ "http://127.0.0.1/", NULL, MB_EAUTH, "no API key" },
		{ "http://127.0.0.1/", "", MB_EAUTH, "no API key" },
		{ "http://127.0.0.1/", "meisa_x\r\nX-Evil: 1", MB_EAUTH,
		  "the API key contains a space or a control character" },
		{ "http://127.0.0.1/", "meisa x", MB_EAUTH,
		  "contains a space" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http h = HTTP_INIT;
		struct http_opts o = HTTP_OPTS_INIT;
		struct err e = ERR_INIT;

		o.base_url = cases[i].url;
		o.api_key = cases[i].key;
		cr_expect_eq(http_open(&h, &o, &e), cases[i].rc, "case %zu", i);
		cr_expect_not_null(strstr(e.msg, cases[i].msg),
				   "case %zu: \"%s\"", i, e.msg);
		cr_expect_null(strstr(e.msg, "meisa_x"), "key in \"%s\"",
			       e.msg);
		assert_closed(&h);
		http_close(&h);
		assert_closed(&h);
	}
}

Test(http_open, close_leaves_init_and_reopens)
{
	struct http h = HTTP_INIT;
	struct http_opts o = HTTP_OPTS_INIT;
	struct err e = ERR_INIT;
	char key[] = "meisa_test_wiped_after_open";
	int round;

	http_close(&h); /* on a never-opened struct */
	assert_closed(&h);
	for (round = 0; round < 3; round++) {
		o.base_url = "https://api.example.invalid/api/v1///";
		o.api_key = key;
		cr_assert_eq(http_open(&h, &o, &e), MB_OK, "%s", e.msg);
		cr_assert_str_eq(h.base_url,
				 "https://api.example.invalid/api/v1");
		cr_assert_eq(h.opts.max_connections, 4);
		cr_assert_null(h.opts.api_key);
		cr_assert_eq(h.pipewait, 1);
		http_close(&h);
		assert_closed(&h);
	}
	/* "7.88.1 (OpenSSL/3.0.19)": for "libcurl 7.88.1 (...)" */
	cr_assert(strchr("0123456789", http_curl_version()[0]) &&
		  strstr(http_curl_version(), " (") != NULL, "%s",
		  http_curl_version());
}

/* ----------------------------------------------------- against srv */

Test(http, headers_and_body_round_trip)
{
	struct http h = HTTP_INIT;
	struct http_request *req;
	struct seen s;
	const char *body = "{\"email\":\"ada@example.com\",\"first_name\":"
		"\"Ada\"}";

	open_h(&h, 4, 0);
	req = do_req(&h, "POST", "/echo", body);
	cr_assert_eq(req->status, 200, "%s", req->errbuf);
	cr_assert_eq(req->curl_code, 0);
	cr_assert_eq(req->retry_after_ms, -1);
	cr_assert_str_eq(buf_str(&req->response),
			 "{\"key\":true,\"method\":\"POST\",\"body\":"
			 "{\"email\":\"ada@example.com\",\"first_name\":"
			 "\"Ada\"}}");
	cr_assert_gt(req->total_time_s, 0);
	cr_assert_eq(req->sends, 1);
	s = server_seen();
	cr_assert(s.key_present && s.key_ok);
	cr_assert_str_eq(s.user_agent, "meisa-bulk/0.1.0");
	cr_assert_str_eq(s.content_type, "application/json");
	cr_assert_str_eq(s.accept, "application/json");
	cr_assert_str_eq(s.method, "POST");
	cr_assert_eq(s.body_len, strlen(body));
	http_request_free(req);

	req = do_req(&h, "GET", "echo", NULL); /* no leading slash */
	cr_assert_eq(req->status, 200);
	cr_assert_str_eq(buf_str(&req->response),
			 "{\"key\":true,\"method\":\"GET\",\"body\":null}");
	cr_assert_str_eq(server_seen().method, "GET");
	cr_assert_eq(server_seen().body_len, 0);
	http_request_free(req);
	http_close(&h);
}

/* A proxy in the environment is not used for this machine. */
Test(http, loopback_bypasses_proxy)
{
	struct http h = HTTP_INIT;
	struct http_request *req;

	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	open_h(&h, 2, 0);
	req = do_req(&h, "GET", "/echo", NULL);
	cr_assert_eq(req->status, 200, "%s", req->errbuf);
	http_request_free(req);
	http_close(&h);
}

/* A large body goes in one exchange: no Expect: 100-continue stall. */
Test(http, large_body_no_expect)
{
	struct http h = HTTP_INIT;
	struct http_request *req;
	struct buf body = BUF_INIT, want = BUF_INIT;
	struct err e = ERR_INIT;
	int64_t t0;
	int i;

	/* libcurl asks for 100-continue above 1 MiB: go past it. */
	buf_addch(&body, '[');
	for (i = 0; i < 200000; i++)
		buf_printf(&body, "%s%d", i ? "," : "", i);
	buf_addch(&body, ']');
	buf_printf(&want, "{\"key\":true,\"method\":\"POST\",\"body\":%s}",
		   buf_str(&body));
	open_h(&h, 4, 0);
	req = http_request_new("POST", "/echo", body.data, body.len, NULL);
	t0 = now_ms();
	cr_assert_eq(http_do(&h, req, &e), MB_OK);
	cr_assert_lt(now_ms() - t0, 900);
	cr_assert_eq(req->status, 200);
	cr_assert_eq(server_seen().expect_present, 0);
	cr_assert_eq(req->response.len, want.len);
	cr_assert_eq(memcmp(req->response.data, want.data, want.len), 0);
	http_request_free(req);
	buf_release(&body);
	buf_release(&want);
	http_close(&h);
}

Test(http, status_codes)
{
	static const long codes[] = { 200, 201, 202, 400, 401, 403, 404, 422,
				      500, 502, 503 };
	struct http h = HTTP_INIT;
	char path[32], want[64];
	size_t i;

	open_h(&h, 2, 0);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct http_request *req;

		snprintf(path, sizeof(path), "/status/%ld", codes[i]);
		snprintf(want, sizeof(want), "{\"detail\":\"status %ld\"}",
			 codes[i]);
		req = do_req(&h, "POST", path, "{}");
		cr_expect_eq(req->status, codes[i]);
		cr_expect_eq(req->curl_code, 0);
		cr_expect_str_eq(buf_str(&req->response), want);
		cr_expect_str_eq(req->errbuf, "");
		http_request_free(req);
	}
	http_close(&h);
}

Test(http, retry_after_header)
{
	struct http h = HTTP_INIT;
	struct http_request *req;
	struct err e = ERR_INIT;

	open_h(&h, 2, 0);
	req = do_req(&h, "POST", "/429ra", "{}");
	cr_assert_eq(req->status, 429);
	cr_assert_eq(req->retry_after_ms, 2000);
	http_request_free(req);

	req = do_req(&h, "POST", "/429date", "{}");
	cr_assert_eq(req->status, 429);
	cr_assert(req->retry_after_ms >= 1000 && req->retry_after_ms <= 4000,
		  "%lld", (long long)req->retry_after_ms);
	http_request_free(req);

	req = do_req(&h, "POST", "/429", "{}");
	cr_assert_eq(req->status, 429);
	cr_assert_eq(req->retry_after_ms, -1);

	/* Resubmitting the same request resets what the last answer left. */
	free(req->path);
	req->path = strdup("/429ra");
	cr_assert_eq(http_do(&h, req, &e), MB_OK);
	cr_assert_eq(req->retry_after_ms, 2000);
	free(req->path);
	req->path = strdup("/echo");
	cr_assert_eq(http_do(&h, req, &e), MB_OK);
	cr_assert_eq(req->status, 200);
	cr_assert_eq(req->retry_after_ms, -1);
	http_request_free(req);
	http_close(&h);
}

/* ------------------------------------------------ transport failures */

Test(http, timeout)
{
	struct http h = HTTP_INIT;
	struct http_request *req;
	int64_t t0 = now_ms();

	open_h(&h, 2, 300);
	req = do_req(&h, "POST", "/slow", "{}");
	cr_assert_lt(now_ms() - t0, 3000);
	cr_assert_eq(req->status, 0);
	cr_assert_eq(req->curl_code, CURLE_OPERATION_TIMEDOUT);
	cr_assert_neq(req->errbuf[0], '\0');
	cr_assert_not_null(strstr(req->errbuf, "imed out"), "%s", req->errbuf);
	cr_assert_null(strstr(req->errbuf, KEY));
	http_request_free(req);
	http_close(&h);
}

Test(http, connection_refused)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct http h = HTTP_INIT;
	struct http_opts o = HTTP_OPTS_INIT;
	struct http_request *req;
	struct err e = ERR_INIT;
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was free a moment ago and has no listener. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1",
		 ntohs(sa.sin_port));
	o.base_url = url;
	o.api_key = KEY;
	cr_assert_eq(http_open(&h, &o, &e), MB_OK);
	req = do_req(&h, "GET", "/ping/", NULL);
	cr_assert_eq(req->status, 0);
	cr_assert_eq(req->curl_code, CURLE_COULDNT_CONNECT);
	cr_assert_eq(req->sends, 0, "nothing went out");
	cr_assert_not_null(strstr(req->errbuf, "onnect"), "%s", req->errbuf);
	cr_assert_null(strstr(req->errbuf, KEY));
	http_request_free(req);
	http_close(&h);
}

Test(http, dropped_connection)
{
	struct http h = HTTP_INIT;
	struct http_request *req;

	open_h(&h, 2, 0);
	req = do_req(&h, "POST", "/drop", "{}");
	cr_assert_eq(req->status, 0);
	cr_assert_neq(req->curl_code, 0);
	cr_assert_neq(req->errbuf[0], '\0');
	cr_assert_eq(req->sends, 1, "a fresh connection is not retried");
	http_request_free(req);
	/* The next request on the same handle set goes through. */
	req = do_req(&h, "POST", "/echo", "{}");
	cr_assert_eq(req->status, 200);
	http_request_free(req);
	http_close(&h);
}

/*
 * A reused connection that closes before answering makes libcurl send the
 * request again on a fresh one by itself: the server sees two requests,
 * and sends says so (meisa counts both against the rate limits).
 */
Test(http, resend_by_libcurl_on_a_dead_reused_connection_is_counted)
{
	struct http h = HTTP_INIT;
	struct http_request *req;

	open_h(&h, 1, 0);
	req = do_req(&h, "POST", "/echo", "{}");
	cr_assert_eq(req->status, 200, "%s", req->errbuf);
	cr_assert_eq(req->sends, 1);
	http_request_free(req);
	cr_assert_eq(atomic_load(&srv.connections), 1);
	req = do_req(&h, "POST", "/drop", "{}");
	cr_assert_eq(req->status, 0);
	cr_assert_neq(req->curl_code, 0);
	cr_assert_eq(req->sends, 2, "sent on the reused connection, then on"
		     " a fresh one");
	cr_assert_eq(atomic_load(&srv.connections), 2);
	http_request_free(req);
	/* Counted afresh for each request. */
	req = do_req(&h, "POST", "/echo", "{}");
	cr_assert_eq(req->status, 200, "%s", req->errbuf);
	cr_assert_eq(req->sends, 1);
	http_request_free(req);
	http_close(&h);
}

Test(http, response_size_cap)
{
	static const char *paths[] = { "/huge", "/huge-chunked" };
	struct http h = HTTP_INIT;
	struct http_request *req;
	size_t i;

	open_h(&h, 2, 0);
	for (i = 0; i < 2; i++) {
		req = do_req(&h, "GET", paths[i], NULL);
		cr_expect_eq(req->status, 0, "%s", paths[i]);
		cr_expect_neq(req->curl_code, 0, "%s", paths[i]);
		cr_expect_not_null(strstr(req->errbuf,
					  "response body too large"),
				   "%s: %s", paths[i], req->errbuf);
		cr_expect_leq(req->response.len, HTTP_RESPONSE_MAX);
		http_request_free(req);
	}
	/* Exactly at the cap is fine. */
	req = do_req(&h, "GET", "/max", NULL);
	cr_assert_eq(req->status, 200, "%s", req->errbuf);
	cr_assert_eq(req->response.len, HTTP_RESPONSE_MAX);
	http_request_free(req);
	http_close(&h);
}

/* ---------------------------------------------- concurrency, queues */

Test(http, connections_are_reused)
{
	struct http h = HTTP_INIT;
	struct http_request *req;
	struct err e = ERR_INIT;
	int submitted = 0, finished = 0;
	char body[32];

	open_h(&h, 4, 0);
	while (finished < 50) {
		while (submitted < 50 && http_in_flight(&h) < 4) {
			snprintf(body, sizeof(body), "%d", submitted);
			req = http_request_new("POST", "/echo", body,
					       strlen(body), NULL);
			req->tag_id = submitted++;
			cr_assert_eq(http_submit(&h, req, &e), MB_OK, "%s",
				     e.msg);
		}
		cr_assert_eq(http_wait(&h, 1000, &e), MB_OK, "%s", e.msg);
		while ((req = http_next_done(&h))) {
			cr_assert_eq(req->status, 200, "%s", req->errbuf);
			finished++;
			http_request_free(req);
		}
	}
	cr_assert_eq(atomic_load(&srv.requests), 50);
	cr_assert_leq(atomic_load(&srv.connections), 4, "%d connections",
		      atomic_load(&srv.connections));
	cr_assert_leq(h.nidle, 4);
	/* Sequential calls after that still use the same connections. */
	for (finished = 0; finished < 10; finished++)
		http_request_free(do_req(&h, "GET", "/echo", NULL));
	cr_assert_leq(atomic_load(&srv.connections), 4);
	http_close(&h);
}

Test(http, many_concurrent)
{
	struct http h = HTTP_INIT;
	struct http_request *req;
	struct err e = ERR_INIT;
	static char seen[200];
	char body[32], want[96];
	int i, finished = 0;

	open_h(&h, 8, 0);
	for (i = 0; i < 200; i++) {
		snprintf(body, sizeof(body), "%d", i);
		req = http_request_new("POST", "/echo", body, strlen(body),
				       NULL);
		req->tag_id = i;
		cr_assert_eq(http_submit(&h, req, &e), MB_OK, "%s", e.msg);
	}
	cr_assert_eq(http_in_flight(&h), 200);
	while (finished < 200) {
		cr_assert_eq(http_wait(&h, 1000, &e), MB_OK, "%s", e.msg);
		while ((req = http_next_done(&h))) {
			snprintf(want, sizeof(want), "{\"key\":true,\"method\""
				 ":\"POST\",\"body\":%lld}",
				 (long long)req->tag_id);
			cr_assert_eq(req->status, 200, "%s", req->errbuf);
			cr_assert_str_eq(buf_str(&req->response), want);
			cr_assert_eq(seen[req->tag_id], 0);
			seen[req->tag_id] = 1;
			finished++;
			http_request_free(req);
		}
	}
	cr_assert_eq(http_in_flight(&h), 0);
	cr_assert_null(http_next_done(&h));
	cr_assert_leq(atomic_load(&srv.connections), 8, "%d connections",
		      atomic_load(&srv.connections));
	http_close(&h);
}

static struct http_request *submit_delay(struct http *h, int ms)
{
	struct http_request *req;
	struct err e = ERR_INIT;
	char path[32];

	snprintf(path, sizeof(path), "/delay/%d", ms);
	req = http_request_new("GET", path, NULL, 0, NULL);
	req->tag_id = ms;
	cr_assert_eq(http_submit(h, req, &e), MB_OK, "%s", e.msg);
	return req;
}

/* Finished requests come back in the order they finished. */
Test(http, done_queue_is_fifo)
{
	struct http h = HTTP_INIT;
	struct http_request *req;
	struct err e = ERR_INIT;
	/* Gaps of 400 ms: wide enough for a loaded machine's jitter. */
	static const int64_t order[] = { 0, 400, 800 };
	static const int64_t later[] = { 100, 500, 900 };
	int n = 0;

	open_h(&h, 4, 0);
	submit_delay(&h, 800);
	submit_delay(&h, 0);
	submit_delay(&h, 400);
	while (n < 3) {
		cr_assert_eq(http_wait(&h, 1000, &e), MB_OK);
		while ((req = http_next_done(&h))) {
			cr_assert_eq(req->tag_id, order[n], "got %lld at %d",
				     (long long)req->tag_id, n);
			cr_assert_eq(req->status, 200);
			n++;
			http_request_free(req);
		}
	}
	/* Left uncollected, they still queue in order. */
	submit_delay(&h, 900);
	submit_delay(&h, 100);
	submit_delay(&h, 500);
	drain(&h);
	for (n = 0; n < 3; n++) {
		req = http_next_done(&h);
		cr_assert_not_null(req);
		cr_assert_eq(req->tag_id, later[n]);
		http_request_free(req);
	}
	cr_assert_null(http_next_done(&h));
	http_close(&h);
}

/* http_do waits for its request only; the others stay queued. */
Test(http, do_keeps_others_queued)
{
	struct http h = HTTP_INIT;
	struct http_request *a, *b, *c, *got;

	open_h(&h, 4, 0);
	a = submit_delay(&h, 0);
	b = submit_delay(&h, 50);
	c = do_req(&h, "GET", "/delay/300", NULL);
	cr_assert_eq(c->status, 200);
	cr_assert_str_eq(buf_str(&c->response), "300");
	cr_assert_eq(http_in_flight(&h), 0);
	got = http_next_done(&h);
	cr_assert_eq(got, a);
	got = http_next_done(&h);
	cr_assert_eq(got, b);
	cr_assert_null(http_next_done(&h));
	http_request_free(a);
	http_request_free(b);
	/* And again once c is collected: it can be reused. */
	cr_assert_eq(http_do(&h, c, NULL), MB_OK);
	cr_assert_eq(c->status, 200);
	http_request_free(c);
	http_close(&h);
}

Test(http, submit_twice_is_refused)
{
	struct http h = HTTP_INIT;
	struct http_request *req;
	struct err e = ERR_INIT;

	open_h(&h, 2, 0);
	req = submit_delay(&h, 50);
	cr_assert_eq(http_submit(&h, req, &e), MB_EINTERNAL);
	cr_assert_not_null(strstr(e.msg, "submitted twice"), "%s", e.msg);
	drain(&h);
	cr_assert_eq(http_submit(&h, req, &e), MB_EINTERNAL); /* uncollected */
	cr_assert_eq(http_next_done(&h), req);
	cr_assert_eq(http_submit(&h, req, &e), MB_OK);
	drain(&h);
	cr_assert_eq(http_next_done(&h), req);
	http_request_free(req);
	req = http_request_new("get", "/echo", NULL, 0, NULL);
	cr_assert_eq(http_submit(&h, req, &e), MB_EINTERNAL);
	cr_assert_not_null(strstr(e.msg, "invalid method 'get'"));
	http_request_free(req);
	http_close(&h);
}

/* ------------------------------------------------------------ waiting */

Test(http, wait_sleeps_when_idle)
{
	struct http h = HTTP_INIT;
	struct err e = ERR_INIT;
	int64_t t0, took;

	open_h(&h, 2, 0);
	t0 = now_ms();
	cr_assert_eq(http_wait(&h, 200, &e), MB_OK);
	took = now_ms() - t0;
	cr_assert(took >= 190 && took < 1000, "took %lld ms",
		  (long long)took);
	/* With finished requests waiting it does not block. */
	submit_delay(&h, 0);
	drain(&h);
	t0 = now_ms();
	cr_assert_eq(http_wait(&h, 5000, &e), MB_OK);
	cr_assert_lt(now_ms() - t0, 100);
	http_request_free(http_next_done(&h));
	http_close(&h);
}

/* A completion ends the wait at once, not at its timeout. */
Test(http, wait_wakes_on_completion)
{
	struct http h = HTTP_INIT;
	struct err e = ERR_INIT;
	int64_t t0, took;

	open_h(&h, 2, 0);
	http_request_free(do_req(&h, "GET", "/echo", NULL)); /* connect */
	submit_delay(&h, 100);
	t0 = now_ms();
	while (!h.done_head)
		cr_assert_eq(http_wait(&h, 5000, &e), MB_OK);
	took = now_ms() - t0;
	cr_assert(took >= 90 && took < 400, "took %lld ms", (long long)took);
	http_request_free(http_next_done(&h));
	http_close(&h);
}

static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int64_t time_wait_with_alarm(struct http *h, int timeout_ms)
{
	struct err e = ERR_INIT;
	struct itimerval it;
	int64_t t0;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 100 * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = now_ms();
	cr_assert_eq(http_wait(h, timeout_ms, &e), MB_OK);
	return now_ms() - t0;
}

/* A stop signal (SIGINT, SIGTERM) ends the wait at once. */
Test(http, wait_returns_on_signal)
{
	struct http h = HTTP_INIT;
	struct http_opts o = HTTP_OPTS_INIT;
	struct err e = ERR_INIT;
	struct sigaction sa;
	int64_t took, t0;
	int round;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	o.base_url = srv.base_url;
	o.api_key = KEY;
	o.stop = &stop_flag;
	cr_assert_eq(http_open(&h, &o, &e), MB_OK);
	/* Idle, and then with transfers in flight at various stages. */
	for (round = 0; round < 6; round++) {
		if (round)
			submit_delay(&h, 3000);
		stop_flag = 0;
		took = time_wait_with_alarm(&h, 3000);
		cr_assert(took >= 90 && took < 1000, "round %d: took %lld ms",
			  round, (long long)took);
	}
	/* Once stopped, waits run their course (draining the answers). */
	cr_assert_eq(stop_flag, 1);
	t0 = now_ms();
	cr_assert_eq(http_wait(&h, 400, &e), MB_OK);
	took = now_ms() - t0;
	cr_assert(took >= 390 && took < 1000, "took %lld ms", (long long)took);
	http_close(&h); /* with five /delay/3000 still in flight */
}

/* Without a stop flag, a signal still ends an idle wait. */
Test(http, idle_wait_returns_on_any_signal)
{
	struct http h = HTTP_INIT;
	struct sigaction sa;
	int64_t took;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	open_h(&h, 2, 0);
	took = time_wait_with_alarm(&h, 3000);
	cr_assert(took >= 90 && took < 1000, "took %lld ms", (long long)took);
	http_close(&h);
}

/* In-flight and uncollected requests are freed by close (ASan checks). */
Test(http, close_with_requests_held)
{
	struct http h = HTTP_INIT;
	struct err e = ERR_INIT;
	int i;

	open_h(&h, 8, 0);
	for (i = 0; i < 2; i++)
		submit_delay(&h, 0);
	for (i = 0; i < 10; i++) {
		struct http_request *req = http_request_new("POST", "/slow",
							    "{}", 2, NULL);

		cr_assert_eq(http_submit(&h, req, &e), MB_OK);
	}
	while (http_in_flight(&h) > 10)
		cr_assert_eq(http_wait(&h, 1000, &e), MB_OK);
	cr_assert_not_null(h.done_head);
	http_close(&h);
	assert_closed(&h);
}

/* Regression: ping printed MEISA_BASE_URL with its user:password@. */
Test(http, url_shown_without_userinfo)
{
	static const char *const cases[][2] = {
		{ "http://admin:pw@host/api/v1", "http://host/api/v1" },
		{ "https://a@b:pw@host:8443/x", "https://host:8443/x" },
		{ "http://host/x@y", "http://host/x@y" },
		{ "http://host?u=a@b", "http://host?u=a@b" },
		{ "https://api.meisa.io/api/v1", "https://api.meisa.io/api/v1" },
		{ "no scheme@host", "no scheme@host" },
	};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = http_url_shown(cases[i][0]);
		cr_assert_str_eq(s, cases[i][1], "case %zu", i);
		free(s);
	}
}
