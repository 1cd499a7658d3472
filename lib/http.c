/*
 * http: libcurl multi transport (see http.h for the contract).
 *
 * Life of a request: http_submit takes an easy handle from the idle pool
 * (or makes one), sets every per-request option, adds it to the multi
 * handle and links the request on the in-flight list.  http_wait drives
 * curl_multi_poll / curl_multi_perform; each CURLMSG_DONE moves its request
 * to the tail of the done queue and parks its easy handle back in the pool.
 *
 * Connections live in the multi handle's cache, shared by all its easy
 * handles, so they survive from one request to the next; reusing the easy
 * handles too saves their setup, where libcurl allows it (reuse_is_safe).
 * Options that never change (timeouts, TLS, User-Agent, headers,
 * callbacks) are set once when a handle is made; the ones that do (URL,
 * method, body, the request's buffers) are set on every submit, so
 * nothing leaks from one request into the next.
 */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "version.h"
#include "xalloc.h"

#define CONNECT_TIMEOUT_DEFAULT_MS 10000L
#define TIMEOUT_DEFAULT_MS 60000L
#define CONNECTIONS_DEFAULT 4
/* A connection idle this long gets TCP keepalive probes. */
#define KEEPALIVE_IDLE_S 30L

enum req_state { REQ_IDLE, REQ_FLYING, REQ_DONE };

_Static_assert(sizeof(((struct http_request *)0)->errbuf) >= CURL_ERROR_SIZE,
	       "errbuf must hold CURL_ERROR_SIZE bytes");

/* curl_global_init is process-wide: done by the first open, undone by the
 * last close (not thread-safe, see http.h). */
static unsigned global_users;

static enum mb_rc global_acquire(struct err *e)
{
	CURLcode cc;

	if (global_users == 0) {
		cc = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (cc != CURLE_OK)
			return err_set(e, MB_EINTERNAL, "cannot initialise "
				       "libcurl: %s", curl_easy_strerror(cc));
	}
	global_users++;
	return MB_OK;
}

static void global_release(void)
{
	if (global_users > 0 && --global_users == 0)
		curl_global_cleanup();
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum mb_rc multi_fail(struct err *e, const char *what, CURLMcode mc)
{
	return err_set(e, MB_EINTERNAL, "%s: %s", what,
		       curl_multi_strerror(mc));
}

/* ------------------------------------------------------------ requests */

struct http_request *http_request_new(const char *method, const char *path,
				      const char *body, size_t body_len,
				      void *tag)
{
	struct http_request *req = xcalloc(1, sizeof(*req));

	snprintf(req->method, sizeof(req->method), "%s", method ? method : "");
	req->path = xstrdup(path ? path : "/");
	/* The caller chose the body: no cap but memory. */
	buf_init(&req->body, SIZE_MAX);
	if (body)
		buf_add(&req->body, body, body_len);
	buf_init(&req->response, HTTP_RESPONSE_MAX);
	req->tag = tag;
	req->retry_after_ms = -1;
	req->state = REQ_IDLE;
	return req;
}

void http_request_free(struct http_request *req)
{
	if (!req)
		return;
	free(req->path);
	buf_release(&req->body);
	buf_release(&req->response);
	free(req);
}

static void reset_results(struct http_request *req)
{
	req->status = 0;
	buf_reset(&req->response);
	req->retry_after_ms = -1;
	req->curl_code = 0;
	req->errbuf[0] = '\0';
	req->content_type[0] = '\0';
	req->location[0] = '\0';
	req->total_time_s = 0;
	req->sends = 0;
	req->wire_ms = 0;
	req->too_big = 0;
}

/* ------------------------------------------------------------ callbacks */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct http_request *req = arg;
	size_t len = size * n;

	if (buf_add(&req->response, data, len) != MB_OK) {
		req->too_big = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return len;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	static const char name[] = "retry-after:";
	struct http_request *req = arg;
	size_t len = size * n, name_len = sizeof(name) - 1;
	char value[128];

	/* Each response (a 100 Continue, then the real one) starts afresh. */
	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		req->retry_after_ms = -1;
	} else if (len > name_len && !strncasecmp(line, name, name_len)) {
		if (len - name_len >= sizeof(value)) {
			req->retry_after_ms = -1;
			return len;
		}
		memcpy(value, line + name_len, len - name_len);
		value[len - name_len] = '\0';
		req->retry_after_ms =
			http_parse_retry_after(value, (int64_t)time(NULL));
	}
	return len;
}

/* Called each time libcurl is about to send the request on a connection,
 * its own re-sends on a fresh connection included. */
static int on_prereq(void *arg, char *primary_ip, char *local_ip,
		     int primary_port, int local_port)
{
	struct http_request *req = arg;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (!req->sends++)
		req->wire_ms = clock_mono_ms();
	return CURL_PREREQFUNC_OK;
}

/* --------------------------------------------------------------- handles */

#define SET(c, opt, val) \
	do { \
		CURLcode cc_ = curl_easy_setopt((c), (opt), (val)); \
		if (cc_ != CURLE_OK) { \
			rc = err_set(e, MB_EINTERNAL, "cannot set libcurl " \
				     "option %s: %s", #opt, \
				     curl_easy_strerror(cc_)); \
			goto out; \
		} \
	} while (0)

/* A new easy handle with every option that is the same for all requests. */
static CURL *easy_new(struct http *h, struct err *e)
{
	long connect_ms = h->opts.connect_timeout_ms > 0 ?
		h->opts.connect_timeout_ms : CONNECT_TIMEOUT_DEFAULT_MS;
	long total_ms = h->opts.timeout_ms > 0 ?
		h->opts.timeout_ms : TIMEOUT_DEFAULT_MS;
	enum mb_rc rc = MB_OK;
	CURL *c = curl_easy_init();

	if (!c) {
		err_set(e, MB_EINTERNAL, "cannot create a libcurl handle");
		return NULL;
	}
	SET(c, CURLOPT_NOSIGNAL, 1L);
	SET(c, CURLOPT_PROTOCOLS_STR, "http,https");
	SET(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* Proxies from the environment apply, except to this machine (the
	 * sandbox, tests): a proxy cannot reach our loopback anyway. */
	SET(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	SET(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(c, CURLOPT_TIMEOUT_MS, total_ms);
	SET(c, CURLOPT_TCP_KEEPALIVE, 1L);
	SET(c, CURLOPT_TCP_KEEPIDLE, KEEPALIVE_IDLE_S);
	SET(c, CURLOPT_TCP_KEEPINTVL, KEEPALIVE_IDLE_S);
	SET(c, CURLOPT_SSL_VERIFYPEER, h->opts.insecure ? 0L : 1L);
	SET(c, CURLOPT_SSL_VERIFYHOST, h->opts.insecure ? 0L : 2L);
	SET(c, CURLOPT_USERAGENT, "meisa-bulk/" MB_VERSION);
	SET(c, CURLOPT_HTTPHEADER, h->headers);
	SET(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_RESPONSE_MAX);
	SET(c, CURLOPT_WRITEFUNCTION, on_body);
	SET(c, CURLOPT_HEADERFUNCTION, on_header);
	SET(c, CURLOPT_PREREQFUNCTION, on_prereq);
	SET(c, CURLOPT_PIPEWAIT, (long)h->pipewait);
	/* A libcurl without HTTP/2 refuses this: HTTP/1.1 then, no error. */
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
			 (long)CURL_HTTP_VERSION_2TLS);
out:
	if (rc != MB_OK) {
		curl_easy_cleanup(c);
		return NULL;
	}
	return c;
}

/* The options that change with each request; all of them, every time. */
static enum mb_rc easy_prepare(struct http *h, CURL *c,
			       struct http_request *req, struct err *e)
{
	enum mb_rc rc;
	int get = !strcmp(req->method, "GET");
	int post = !strcmp(req->method, "POST");

	buf_reset(&h->url);
	rc = buf_addstr(&h->url, h->base_url);
	if (rc == MB_OK && req->path[0] != '/')
		rc = buf_addch(&h->url, '/');
	if (rc == MB_OK)
		rc = buf_addstr(&h->url, req->path);
	if (rc != MB_OK)
		return err_set(e, rc, "URL too long for '%s'", req->path);
	SET(c, CURLOPT_URL, buf_str(&h->url));
	SET(c, CURLOPT_PRIVATE, (void *)req);
	SET(c, CURLOPT_WRITEDATA, (void *)req);
	SET(c, CURLOPT_HEADERDATA, (void *)req);
	SET(c, CURLOPT_PREREQDATA, (void *)req);
	SET(c, CURLOPT_ERRORBUFFER, req->errbuf);
	/* POSTFIELDS selects POST, so clear it before choosing GET. */
	SET(c, CURLOPT_POSTFIELDS, (void *)NULL);
	SET(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	SET(c, CURLOPT_CUSTOMREQUEST, get || post ? NULL : req->method);
	if (get || (!post && !req->body.len)) {
		SET(c, CURLOPT_HTTPGET, 1L);
	} else {
		/* Borrowed, not copied: req->body lives until the request
		 * comes back from http_next_done. */
		SET(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
		SET(c, CURLOPT_POSTFIELDS, buf_str(&req->body));
	}
out:
	return rc;
}

#undef SET

static int method_ok(const char *method)
{
	const char *p = method;

	while (*p >= 'A' && *p <= 'Z')
		p++;
	return p != method && !*p;
}

/*
 * libcurl before 8.1.0 keeps a pointer to the last header of a handle's
 * previous response and follows it when the next response opens with a
 * folded header line (" x" or "\tx" right after the status line): a
 * use-after-free, curl issue #11101, fixed by curl commit "headers: clear
 * (possibly) lingering pointer in init".  Debian 12 ships 7.88.1, so a
 * server answering a 503 and then such a response crashed us.  On those
 * versions a handle is used for one transfer only.  Connections are not
 * lost: they live in the multi handle's cache, not in the easy handles.
 */
static int reuse_is_safe(void)
{
	return curl_version_info(CURLVERSION_NOW)->version_num >= 0x080100;
}

static void pool_put(struct http *h, CURL *c)
{
	if (!reuse_is_safe()) {
		curl_easy_cleanup(c);
		return;
	}
	/* Nothing of the last request may be reachable from an idle handle. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, (char *)NULL);
	curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)NULL);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)NULL);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, (void *)NULL);
	curl_easy_setopt(c, CURLOPT_PREREQDATA, (void *)NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, (void *)NULL);
	if (h->nidle == h->idle_cap) {
		h->idle_cap = h->idle_cap ? h->idle_cap * 2 : 8;
		h->idle = xrealloc(h->idle, h->idle_cap * sizeof(*h->idle));
	}
	h->idle[h->nidle++] = c;
}

static CURL *pool_get(struct http *h, struct err *e)
{
	if (h->nidle)
		return h->idle[--h->nidle];
	return easy_new(h, e);
}

/* ------------------------------------------------------------ the lists */

static void flying_link(struct http *h, struct http_request *req)
{
	req->prev = NULL;
	req->next = h->flying;
	if (h->flying)
		h->flying->prev = req;
	h->flying = req;
}

static void flying_unlink(struct http *h, struct http_request *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		h->flying = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->next = req->prev = NULL;
}

static void done_append(struct http *h, struct http_request *req)
{
	req->next = NULL;
	req->prev = h->done_tail;
	if (h->done_tail)
		h->done_tail->next = req;
	else
		h->done_head = req;
	h->done_tail = req;
}

static void done_unlink(struct http *h, struct http_request *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		h->done_head = req->next;
	if (req->next)
		req->next->prev = req->prev;
	else
		h->done_tail = req->prev;
	req->next = req->prev = NULL;
}

/* ------------------------------------------------------------- open/close */

static enum mb_rc check_base_url(const char *url, struct err *e)
{
	const char *p, *host, *why = NULL;
	char *shown;

	if (!url || !*url)
		return err_set(e, MB_EUSAGE, "no API base URL");
	if (!strncasecmp(url, "http://", 7))
		host = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		host = url + 8;
	else
		why = "expected http:// or https://";
	if (!why && (!*host || *host == '/'))
		why = "no host";
	for (p = url; !why && *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			why = "contains a space or a control character";
	if (!why)
		return MB_OK;
	shown = http_url_shown(url);
	err_set(e, MB_EUSAGE, "invalid API base URL '%s': %s", shown, why);
	free(shown);
	return MB_EUSAGE;
}

static enum mb_rc check_key(const char *key, struct err *e)
{
	const char *p;

	if (!key || !*key)
		return err_set(e, MB_EAUTH, "no API key");
	/* A line break would inject headers; never quote the key itself. */
	for (p = key; *p; p++)
		if (iscntrl((unsigned char)*p) || *p == ' ')
			return err_set(e, MB_EAUTH, "the API key contains a "
				       "space or a control character");
	return MB_OK;
}

static void headers_free(struct curl_slist *list)
{
	struct curl_slist *l;

	/* The key is a secret: leave no copy of it in freed memory. */
	for (l = list; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

static enum mb_rc headers_build(struct curl_slist **out, const char *key,
				struct err *e)
{
	static const char *const fixed[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		"Expect:",
	};
	struct curl_slist *list = NULL, *l;
	struct buf line = BUF_INIT;
	enum mb_rc rc = MB_OK;
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!(l = curl_slist_append(list, fixed[i])))
			goto oom;
		list = l;
	}
	rc = buf_printf(&line, "X-API-Key: %s", key);
	if (rc != MB_OK) {
		rc = err_set(e, MB_EAUTH, "the API key is too long");
		goto out;
	}
	if (!(l = curl_slist_append(list, buf_str(&line))))
		goto oom;
	list = l;
	*out = list;
	list = NULL;
	goto out;
oom:
	rc = err_set(e, MB_EINTERNAL, "cannot build the request headers");
out:
	if (line.data)
		explicit_bzero(line.data, line.cap);
	buf_release(&line);
	headers_free(list);
	return rc;
}

/* The multi handle: exactly n connections at most, all n kept when idle. */
static enum mb_rc multi_new(void **out, size_t n, struct err *e)
{
	CURLM *multi = curl_multi_init();
	CURLMcode mc;

	if (!multi)
		return err_set(e, MB_EINTERNAL, "cannot create a libcurl "
			       "multi handle");
	if ((mc = curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
				    (long)n)) != CURLM_OK ||
	    (mc = curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
				    (long)n)) != CURLM_OK ||
	    (mc = curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
				    (long)n)) != CURLM_OK ||
	    (mc = curl_multi_setopt(multi, CURLMOPT_PIPELINING,
				    (long)CURLPIPE_MULTIPLEX)) != CURLM_OK) {
		curl_multi_cleanup(multi);
		return multi_fail(e, "curl_multi_setopt", mc);
	}
	*out = multi;
	return MB_OK;
}

enum mb_rc http_open(struct http *h, const struct http_opts *opts,
		     struct err *e)
{
	struct http fresh = HTTP_INIT;
	struct curl_slist *headers = NULL;
	enum mb_rc rc;
	size_t n;
	char *p;

	*h = fresh;
	if ((rc = check_base_url(opts->base_url, e)) != MB_OK ||
	    (rc = check_key(opts->api_key, e)) != MB_OK)
		return rc;
	if ((rc = global_acquire(e)) != MB_OK)
		return rc;
	h->opts = *opts;
	h->opts.api_key = NULL; /* the caller may wipe it: never kept */
	h->base_url = xstrdup(opts->base_url);
	for (p = h->base_url + strlen(h->base_url); p > h->base_url &&
	     p[-1] == '/'; p--)
		p[-1] = '\0';
	h->opts.base_url = h->base_url;
	/*
	 * PIPEWAIT makes a new transfer wait for a connection in progress to
	 * tell whether it can multiplex.  Only TLS connections can offer
	 * HTTP/2 (CURL_HTTP_VERSION_2TLS): on plain http waiting would only
	 * delay the first transfers by a round trip.
	 */
	h->pipewait = !strncasecmp(h->base_url, "https://", 8);
	buf_init(&h->url, 64 * 1024);
	n = opts->max_connections ? opts->max_connections : CONNECTIONS_DEFAULT;
	h->opts.max_connections = n;
	if ((rc = headers_build(&headers, opts->api_key, e)) != MB_OK)
		goto out;
	h->headers = headers;
	rc = multi_new(&h->multi, n, e);
out:
	if (rc != MB_OK) {
		headers_free(h->headers);
		free(h->base_url);
		buf_release(&h->url);
		*h = fresh;
		global_release();
	}
	return rc;
}

void http_close(struct http *h)
{
	struct http fresh = HTTP_INIT;
	struct http_request *req;
	size_t i;

	if (!h->multi) {
		*h = fresh;
		return;
	}
	while ((req = h->flying)) {
		flying_unlink(h, req);
		curl_multi_remove_handle(h->multi, req->easy);
		curl_easy_cleanup(req->easy);
		http_request_free(req);
	}
	while ((req = h->done_head)) {
		done_unlink(h, req);
		http_request_free(req);
	}
	for (i = 0; i < h->nidle; i++)
		curl_easy_cleanup(h->idle[i]);
	free(h->idle);
	curl_multi_cleanup(h->multi);
	headers_free(h->headers);
	free(h->base_url);
	buf_release(&h->url);
	*h = fresh;
	global_release();
}

/* ---------------------------------------------------------------- running */

enum mb_rc http_submit(struct http *h, struct http_request *req,
		       struct err *e)
{
	CURLMcode mc;
	enum mb_rc rc;
	CURL *c;

	if (!h->multi)
		return err_set(e, MB_EINTERNAL, "http: not open");
	if (req->state != REQ_IDLE)
		return err_set(e, MB_EINTERNAL, "http: request for '%s' "
			       "submitted twice", req->path);
	if (!method_ok(req->method))
		return err_set(e, MB_EINTERNAL, "http: invalid method '%s'",
			       req->method);
	reset_results(req);
	if (!(c = pool_get(h, e)))
		return MB_EINTERNAL;
	rc = easy_prepare(h, c, req, e);
	if (rc == MB_OK && (mc = curl_multi_add_handle(h->multi, c)) !=
	    CURLM_OK)
		rc = multi_fail(e, "curl_multi_add_handle", mc);
	if (rc != MB_OK) {
		pool_put(h, c);
		return rc;
	}
	req->easy = c;
	req->state = REQ_FLYING;
	flying_link(h, req);
	h->in_flight++;
	return MB_OK;
}

/* Record how the transfer of c ended and queue its request. */
/*
 * A server, a proxy or a firewall's error page may echo the request's
 * headers back in the body, and answers are quoted in error messages,
 * stored in the staging file and exported: mask every copy of the key in
 * a response before anyone reads it.  (Meisa never sends the key back.)
 */
static void mask_key(const struct http *h, struct buf *body)
{
	static const char name[] = "X-API-Key: ";
	const struct curl_slist *l;
	const char *key = NULL;
	char *p, *end;
	size_t n;

	for (l = h->headers; l && !key; l = l->next)
		if (!strncmp(l->data, name, sizeof(name) - 1))
			key = l->data + sizeof(name) - 1;
	if (!key || !*key || !body->len)
		return;
	n = strlen(key);
	p = body->data;
	end = body->data + body->len;
	while ((p = memmem(p, (size_t)(end - p), key, n)) != NULL) {
		memset(p, '*', n);
		p += n;
	}
}

static enum mb_rc finish(struct http *h, CURL *c, CURLcode result,
			 struct err *e)
{
	struct http_request *req = NULL;
	char *priv = NULL, *ctype = NULL, *location = NULL;
	long status = 0;
	double total = 0;
	CURLMcode mc;

	curl_easy_getinfo(c, CURLINFO_PRIVATE, &priv);
	req = (struct http_request *)(void *)priv;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &total);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	snprintf(req->content_type, sizeof(req->content_type), "%s",
		 ctype ? ctype : "");
	/* Where a 3xx points (never followed): for the message only. */
	if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK
	    && location)
		snprintf(req->location, sizeof(req->location), "%s", location);
	if ((mc = curl_multi_remove_handle(h->multi, c)) != CURLM_OK)
		return multi_fail(e, "curl_multi_remove_handle", mc);
	pool_put(h, c);
	req->curl_code = (int)result;
	req->status = result == CURLE_OK ? status : 0;
	req->total_time_s = total;
	mask_key(h, &req->response);
	if (req->too_big || result == CURLE_FILESIZE_EXCEEDED)
		snprintf(req->errbuf, sizeof(req->errbuf), "response body "
			 "too large (over %zu bytes)", HTTP_RESPONSE_MAX);
	else if (result != CURLE_OK && !req->errbuf[0])
		snprintf(req->errbuf, sizeof(req->errbuf), "%s",
			 curl_easy_strerror(result));
	req->easy = NULL;
	flying_unlink(h, req);
	req->state = REQ_DONE;
	done_append(h, req);
	h->in_flight--;
	return MB_OK;
}

/* Move every finished transfer to the done queue; count them in *n. */
static enum mb_rc collect(struct http *h, size_t *n, struct err *e)
{
	CURLMsg *msg;
	CURLcode result;
	enum mb_rc rc;
	int left;
	CURL *c;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg dies with the handle's removal: copy what we need. */
		c = msg->easy_handle;
		result = msg->data.result;
		if ((rc = finish(h, c, result, e)) != MB_OK)
			return rc;
		(*n)++;
	}
	return MB_OK;
}

/*
 * Drive transfers until one finishes, timeout_ms passes, or a signal
 * interrupts curl_multi_poll.  libcurl turns EINTR into "nothing happened",
 * so a signal shows as: the stop flag newly set, or a poll that returned
 * early with no socket ready while libcurl's own timer was not yet due.
 * (When that timer was due first, a signal goes unnoticed by the second
 * test: the stop flag is the reliable way.)
 */
static enum mb_rc run(struct http *h, int timeout_ms, struct err *e)
{
	int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int stopped = h->opts.stop && *h->opts.stop;
	int64_t left;
	size_t finished = 0;
	int running, ready, interrupted = 0;
	long curl_timer;
	CURLMcode mc;
	enum mb_rc rc;

	for (;;) {
		if ((mc = curl_multi_perform(h->multi, &running)) != CURLM_OK)
			return multi_fail(e, "curl_multi_perform", mc);
		if ((rc = collect(h, &finished, e)) != MB_OK)
			return rc;
		left = deadline - mono_ms();
		if (finished || interrupted || left <= 0)
			return MB_OK;
		if ((mc = curl_multi_timeout(h->multi, &curl_timer)) !=
		    CURLM_OK)
			return multi_fail(e, "curl_multi_timeout", mc);
		ready = 0;
		if ((mc = curl_multi_poll(h->multi, NULL, 0, (int)left,
					  &ready)) != CURLM_OK)
			return multi_fail(e, "curl_multi_poll", mc);
		if (!stopped && h->opts.stop && *h->opts.stop)
			interrupted = 1;
		if (!ready && (curl_timer < 0 || curl_timer >= left) &&
		    mono_ms() < deadline - 1)
			interrupted = 1;
	}
}

enum mb_rc http_wait(struct http *h, int timeout_ms, struct err *e)
{
	if (!h->multi)
		return err_set(e, MB_EINTERNAL, "http: not open");
	/* Finished requests are waiting: make progress, but do not block. */
	return run(h, h->done_head ? 0 : timeout_ms, e);
}

struct http_request *http_next_done(struct http *h)
{
	struct http_request *req = h->done_head;

	if (req) {
		done_unlink(h, req);
		req->state = REQ_IDLE;
	}
	return req;
}

size_t http_in_flight(const struct http *h)
{
	return h->in_flight;
}

enum mb_rc http_do(struct http *h, struct http_request *req, struct err *e)
{
	enum mb_rc rc = http_submit(h, req, e);

	while (rc == MB_OK && req->state == REQ_FLYING)
		rc = run(h, 1000, e);
	if (rc != MB_OK)
		return rc;
	done_unlink(h, req);
	req->state = REQ_IDLE;
	return MB_OK;
}

/* --------------------------------------------------------- Retry-After */

static int64_t retry_after_seconds(const char *p, const char *end)
{
	int64_t seconds = 0;

	for (; p < end; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		if (seconds <= HTTP_RETRY_AFTER_MAX_S)
			seconds = seconds * 10 + (*p - '0');
	}
	return seconds;
}

int64_t http_parse_retry_after(const char *value, int64_t now_s)
{
	const char *p, *end;
	char date[64];
	int64_t seconds;
	time_t when;

	if (!value)
		return -1;
	for (p = value; *p == ' ' || *p == '\t'; p++)
		;
	for (end = p + strlen(p); end > p && isspace((unsigned char)end[-1]);
	     end--)
		;
	if (p == end)
		return -1;
	if (isdigit((unsigned char)*p)) {
		seconds = retry_after_seconds(p, end);
	} else {
		/* All three HTTP date forms open with a day name; curl_getdate
		 * alone would take much looser text. */
		if (!isalpha((unsigned char)*p) ||
		    (size_t)(end - p) >= sizeof(date))
			return -1;
		memcpy(date, p, (size_t)(end - p));
		date[end - p] = '\0';
		if ((when = curl_getdate(date, NULL)) == -1)
			return -1;
		seconds = (int64_t)when - now_s;
		if (seconds < 0)
			seconds = 0; /* already past: retry now */
	}
	if (seconds < 0)
		return -1;
	if (seconds > HTTP_RETRY_AFTER_MAX_S)
		seconds = HTTP_RETRY_AFTER_MAX_S;
	return seconds * 1000;
}

const char *http_curl_version(void)
{
	static char text[96];
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	snprintf(text, sizeof(text), "%s (%s)", v->version,
		 v->ssl_version ? v->ssl_version : "no TLS");
	return text;
}

char *http_url_shown(const char *url)
{
	const char *sep = strstr(url, "://"), *host, *at = NULL, *p, *end;
	char *out;

	if (!sep)
		return xstrdup(url);
	host = sep + 3;
	end = host + strcspn(host, "/?#");
	for (p = host; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return xstrdup(url);
	out = xmalloc(strlen(url) + 1);
	sprintf(out, "%.*s%s", (int)(host - url), url, at + 1);
	return out;
}
