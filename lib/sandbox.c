/*
 * sandbox: the meisa-sandbox server (see the header for the model).
 */
#include "sandbox.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sandbox_api.h"
#include "sandbox_rate.h"
#include "sandbox_spec.h"
#include "sandbox_store.h"
#include "sandbox_validate.h"
#include "xalloc.h"

#define API_PREFIX "/api/v1"
#define ADMIN_PREFIX API_PREFIX "/_sandbox/"
/*
 * One worker: all database work is serialised under one lock anyway, and on
 * the 2-core machine a second worker only added lock hand-offs and context
 * switches (measured: 18-21k upserts/s with one, 11-21k with two).
 */
#define DEFAULT_THREADS 1
#define DEFAULT_COMMIT_MS 20
#define DRAIN_MAX ((unsigned long long)64 << 20)

/* ---- the server --------------------------------------------------------- */

struct key {
	struct sandbox_key_spec spec;
	char label[24];              /* "key1"...: what the log records */
	struct sandbox_rate_log log; /* under sandbox.lock */
};

/* One HTTP request, from its first line to the completion callback. */
struct request {
	char *query;                 /* raw query string; NULL if none */
	double ts;                   /* arrival, unix seconds */
	int64_t arrival_ms;          /* arrival, monotonic */
	int started;                 /* the handler has seen the headers */
	int answered;                /* status and response are final */
	int delivered;               /* the response is queued */
	struct buf body;             /* capped at SANDBOX_MAX_BODY */
	uint64_t body_size;          /* bytes received, kept or not */
	int too_large;
	int status;                  /* to send; 0: close without answer */
	struct MHD_Response *response;
	/* latency queue */
	struct MHD_Connection *con;
	int64_t due_ms;
	struct request *next;
};

struct sandbox {
	pthread_mutex_t lock;        /* store, rate logs, rng, failure */
	struct sandbox_store store;
	struct key *keys;            /* immutable once serving */
	size_t nkeys;
	struct sandbox_rate rate;
	uint64_t seed, rng;
	double fail_rate, drop_rate, lost_ack_rate;
	char **fault_paths;          /* relative to /api/v1 */
	size_t nfault_paths;
	int64_t start_ms;
	int64_t storm_start_ms, storm_end_ms;  /* both 0: no storm */
	int no_retry_after;
	long latency_ms, commit_ms;
	unsigned port;
	struct MHD_Daemon *daemon;
	struct err failure;          /* first background failure */

	/* committer thread */
	pthread_t committer;
	int committer_started;
	pthread_mutex_t wait_lock;
	pthread_cond_t wake;
	int stopping;

	/* delayer thread (latency) */
	pthread_t delayer;
	int delayer_started;
	pthread_mutex_t delay_lock;
	pthread_cond_t delay_wake;
	struct request *delay_head, *delay_tail;
	int delay_closed;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Millisecond precision, as the requests table promises. */
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

static struct timespec abs_time(int64_t at_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(at_ms / 1000);
	ts.tv_nsec = (long)(at_ms % 1000) * 1000000;
	return ts;
}

/* Remember the first failure the server cannot answer for. */
static void note_failure(struct sandbox *sb, const struct err *e)
{
	if (sb->failure.rc == MB_OK && e->rc != MB_OK)
		sb->failure = *e;
}

static struct key *find_key(struct sandbox *sb, const char *hdr)
{
	size_t i;

	for (i = 0; hdr && i < sb->nkeys; i++)
		if (!strcmp(sb->keys[i].spec.key, hdr))
			return &sb->keys[i];
	return NULL;
}

static int fault_applies(const struct sandbox *sb, const char *rel)
{
	size_t i;

	if (!sb->nfault_paths)
		return 1;
	for (i = 0; rel && i < sb->nfault_paths; i++)
		if (!strncmp(rel, sb->fault_paths[i],
			     strlen(sb->fault_paths[i])))
			return 1;
	return 0;
}

/* What a request gets, decided under the lock. */
struct answer {
	int status;                  /* what the server produced */
	int send;                    /* 0: close the connection instead */
	const char *fault;
	const char *content_type;
	long retry_after_s;          /* < 0: no header */
	const char *allow;           /* Allow header for 405 */
};

#define ANSWER_INIT { 0, 1, NULL, "application/json", -1, NULL }

static const char BAD_GATEWAY[] =
	"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
	"<center><h1>502 Bad Gateway</h1></center>\r\n"
	"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/* A random 500, 502 (an HTML page, as a proxy sends it) or 503. */
static void answer_fail(struct sandbox *sb, struct answer *a,
			struct buf *body)
{
	static const int statuses[] = { 500, 502, 503 };

	a->status = statuses[sandbox_rng_next(&sb->rng) % 3];
	a->fault = "fail";
	if (a->status == 502) {
		a->content_type = "text/html";
		buf_set(body, BAD_GATEWAY, sizeof(BAD_GATEWAY) - 1);
	} else {
		sandbox_api_detail(body, a->status == 500 ?
				   "A server error occurred." :
				   "Service temporarily unavailable, try "
				   "again later.");
	}
}

static void answer_detail(struct answer *a, struct buf *body, int status,
			  const char *detail)
{
	a->status = status;
	sandbox_api_detail(body, detail);
}

static void answer_throttled(struct sandbox *sb, struct answer *a,
			     struct buf *body, int64_t wait_ms)
{
	char msg[128];
	long secs = (long)((wait_ms + 999) / 1000);

	if (secs < 1)
		secs = 1;
	snprintf(msg, sizeof(msg), "Request was throttled. Expected "
		 "available in %ld second%s.", secs, secs == 1 ? "" : "s");
	answer_detail(a, body, 429, msg);
	a->fault = "rate_limited";
	if (!sb->no_retry_after)
		a->retry_after_s = secs;
}

/* 404, with a hint when only the trailing slash is missing. */
static void answer_not_found(struct answer *a, struct buf *body,
			     const char *rel)
{
	char path[512], id[64], msg[700];

	if (rel && *rel && rel[strlen(rel) - 1] != '/' &&
	    strlen(rel) + 2 < sizeof(path)) {
		snprintf(path, sizeof(path), "%s/", rel);
		if (sandbox_api_route(path, id, sizeof(id))) {
			snprintf(msg, sizeof(msg), "Not found. Meisa paths "
				 "end with '/': try '" API_PREFIX "%s'.",
				 path);
			answer_detail(a, body, 404, msg);
			return;
		}
	}
	answer_detail(a, body, 404, "Not found.");
}

/*
 * Everything between the fault draw and the endpoint: returns 1 when the
 * endpoint should run, 0 when a is the final answer.
 */
static int gatekeep(struct sandbox *sb, const struct sandbox_call *call,
		    const char *rel, const char *key_hdr,
		    struct key *key, struct answer *a,
		    struct buf *body)
{
	const struct sandbox_route *route = call->route;
	char msg[128];
	int64_t now = mono_ms(), wait_ms;

	if (!route) {
		answer_not_found(a, body, rel);
	} else if (!key) {
		answer_detail(a, body, 401, key_hdr ? "Invalid API key." :
			      "Authentication credentials were not "
			      "provided.");
	} else if (route->scope && !(key->spec.scopes & route->scope)) {
		snprintf(msg, sizeof(msg), "This key lacks the scope %s.",
			 sandbox_scope_name(route->scope));
		answer_detail(a, body, 403, msg);
	} else if (sb->storm_end_ms && now >= sb->storm_start_ms &&
		   now < sb->storm_end_ms) {
		answer_throttled(sb, a, body, sb->storm_end_ms - now);
	} else if ((wait_ms = sandbox_rate_admit(&sb->rate, &key->log,
						 now)) > 0) {
		answer_throttled(sb, a, body, wait_ms);
	} else if (!sandbox_api_method_ok(route, call->method)) {
		snprintf(msg, sizeof(msg), "Method \"%s\" not allowed.",
			 call->method);
		answer_detail(a, body, 405, msg);
		a->allow = !strcmp(route->method, "GET") ? "GET, HEAD" :
			"POST";
	} else {
		return 1;
	}
	return 0;
}

/* Run the endpoint inside a savepoint; a failure answers 500. */
static void run_endpoint(struct sandbox *sb, struct sandbox_call *call,
			 struct answer *a)
{
	struct err e = ERR_INIT;
	enum mb_rc rc;

	rc = sandbox_store_request_begin(&sb->store, &e);
	if (rc == MB_OK)
		rc = sandbox_api_handle(&sb->store, call, &e);
	if (sandbox_store_request_end(&sb->store, rc == MB_OK, &e) != MB_OK)
		note_failure(sb, &e);
	a->status = call->status;
	if (rc != MB_OK) {
		char msg[ERR_MSG_MAX + 64];

		snprintf(msg, sizeof(msg), "sandbox internal error: %s",
			 e.msg);
		answer_detail(a, &call->response, 500, msg);
	}
}

/*
 * The text to log for s: s itself, or a copy in out with the bytes that are
 * not UTF-8 replaced, so that the tests' sqlite3 module can read every row.
 */
static const char *loggable(const char *s, struct buf *out)
{
	if (!s || sandbox_utf8_ok(s, strlen(s)))
		return s;
	sandbox_utf8_lossy(out, s, strlen(s));
	return buf_str(out);
}

static void log_request(struct sandbox *sb, const struct request *r,
			const struct sandbox_call *call,
			const struct answer *a, const char *url,
			const struct key *key)
{
	struct buf path = BUF_INIT, query = BUF_INIT;
	struct sandbox_log_row row;
	struct err e = ERR_INIT;

	row.ts = r->ts;
	row.method = call->method;
	row.path = loggable(url, &path);
	row.query = loggable(r->query, &query);
	row.key_label = key ? key->label : NULL;
	row.status = a->send ? a->status : 0;
	row.app_status = a->status;
	row.body_size = (int64_t)r->body_size;
	row.fault = a->fault;
	row.emails = call->emails.len ? buf_str(&call->emails) : NULL;
	row.body = !r->too_large && r->body_size ? buf_str(&r->body) : NULL;
	row.body_len = r->body.len;
	row.body_is_text = row.body &&
		sandbox_utf8_ok(r->body.data, r->body.len) &&
		!memchr(r->body.data, '\0', r->body.len);
	if (sandbox_store_log(&sb->store, &row, &e) != MB_OK)
		note_failure(sb, &e);
	buf_release(&path);
	buf_release(&query);
}

/* Turn the decided answer into r->status and r->response. */
static void make_response(struct request *r, const struct answer *a,
			  struct buf *body)
{
	struct MHD_Response *resp;
	char retry[24];
	size_t len;
	char *data;

	r->answered = 1;
	r->status = a->send ? a->status : 0;
	if (!a->send)
		return;
	data = buf_detach(body, &len);
	resp = MHD_create_response_from_buffer(len, data,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		r->status = 0;
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				a->content_type);
	if (a->retry_after_s >= 0) {
		snprintf(retry, sizeof(retry), "%ld", a->retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
					retry);
	}
	if (a->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, a->allow);
	r->response = resp;
}

static void process(struct sandbox *sb, struct request *r,
		    struct MHD_Connection *con, const char *url,
		    const char *method)
{
	struct sandbox_call call = SANDBOX_CALL_INIT;
	struct answer a = ANSWER_INIT;
	const char *rel = NULL, *key_hdr;
	struct key *key;
	enum sandbox_fault fault = SANDBOX_FAULT_NONE;
	char id[80] = "";

	if (!strncmp(url, API_PREFIX "/", sizeof(API_PREFIX)))
		rel = url + sizeof(API_PREFIX) - 1;
	key_hdr = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
					      "X-API-Key");
	key = find_key(sb, key_hdr);
	call.route = rel ? sandbox_api_route(rel, id, sizeof(id)) : NULL;
	call.method = method;
	call.id = id;
	call.query = r->query;
	call.content_type = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
		MHD_HTTP_HEADER_CONTENT_TYPE);
	call.body = buf_str(&r->body);
	call.body_len = r->body.len;
	call.key_label = key ? key->label : NULL;
	call.scopes = key ? key->spec.scopes : 0;
	call.live = key ? key->spec.live : 0;
	call.now = r->ts;

	pthread_mutex_lock(&sb->lock);
	if ((sb->fail_rate > 0 || sb->drop_rate > 0 ||
	     sb->lost_ack_rate > 0) && fault_applies(sb, rel))
		fault = sandbox_fault_pick(sb->fail_rate, sb->drop_rate,
			sb->lost_ack_rate, sandbox_rng_uniform(&sb->rng));
	if (fault == SANDBOX_FAULT_FAIL) {
		answer_fail(sb, &a, &call.response);
	} else if (fault == SANDBOX_FAULT_DROP) {
		a.send = 0;
		a.fault = "drop";
	} else if (gatekeep(sb, &call, rel, key_hdr, key, &a,
			    &call.response)) {
		run_endpoint(sb, &call, &a);
	}
	if (fault == SANDBOX_FAULT_LOST_ACK) {
		a.send = 0;
		a.fault = "lost_ack";
	}
	log_request(sb, r, &call, &a, url, key);
	pthread_mutex_unlock(&sb->lock);
	make_response(r, &a, &call.response);
	sandbox_call_release(&call);
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

/* Called with the request line: the raw URI still has its query string. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct request *r = xcalloc(1, sizeof(*r));
	const char *q = strchr(uri, '?');

	buf_init(&r->body, SANDBOX_MAX_BODY);
	r->ts = real_now();
	r->arrival_ms = mono_ms();
	if (q)
		r->query = xstrdup(q + 1);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *con,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *r = *con_cls;

	if (!r)
		return;
	if (r->response)
		MHD_destroy_response(r->response);
	buf_release(&r->body);
	free(r->query);
	free(r);
	*con_cls = NULL;
}

static enum MHD_Result deliver(struct request *r, struct MHD_Connection *con)
{
	enum MHD_Result ret;

	if (r->delivered)
		return MHD_YES;
	/* MHD_NO closes the connection: the client gets no answer at all. */
	if (!r->status || !r->response)
		return MHD_NO;
	r->delivered = 1;
	ret = MHD_queue_response(con, (unsigned)r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return ret;
}

/*
 * Hold the answer for latency_ms: suspend the connection and queue it for
 * the delayer.  Returns 0 when the delayer is closed (answer at once).
 * The connection is suspended before it is queued, so the delayer can
 * never resume a connection that is not suspended yet.
 */
static int delay(struct sandbox *sb, struct request *r,
		 struct MHD_Connection *con)
{
	pthread_mutex_lock(&sb->delay_lock);
	if (sb->delay_closed) {
		pthread_mutex_unlock(&sb->delay_lock);
		return 0;
	}
	MHD_suspend_connection(con);
	r->con = con;
	r->due_ms = mono_ms() + sb->latency_ms;
	r->next = NULL;
	if (sb->delay_tail)
		sb->delay_tail->next = r;
	else
		sb->delay_head = r;
	sb->delay_tail = r;
	pthread_cond_signal(&sb->delay_wake);
	pthread_mutex_unlock(&sb->delay_lock);
	return 1;
}

/* The whole request is in; answer 413 (logged, not otherwise handled). */
static void too_large(struct sandbox *sb, struct request *r, const char *url,
		      const char *method)
{
	struct sandbox_call call = SANDBOX_CALL_INIT;
	struct answer a = ANSWER_INIT;
	char msg[96];

	snprintf(msg, sizeof(msg), "Request body exceeds the limit of %zu "
		 "bytes.", SANDBOX_MAX_BODY);
	answer_detail(&a, &call.response, 413, msg);
	call.method = method;
	pthread_mutex_lock(&sb->lock);
	log_request(sb, r, &call, &a, url, NULL);
	pthread_mutex_unlock(&sb->lock);
	make_response(r, &a, &call.response);
	sandbox_call_release(&call);
}

static void admin(struct sandbox *sb, struct request *r, const char *url)
{
	struct answer a = ANSWER_INIT;
	struct buf body = BUF_INIT;
	struct err e = ERR_INIT;

	if (strcmp(url, ADMIN_PREFIX "flush") &&
	    strcmp(url, ADMIN_PREFIX "flush/")) {
		answer_detail(&a, &body, 404, "Not found.");
	} else {
		pthread_mutex_lock(&sb->lock);
		if (sandbox_store_commit(&sb->store, &e) != MB_OK)
			note_failure(sb, &e);
		pthread_mutex_unlock(&sb->lock);
		a.status = e.rc == MB_OK ? 200 : 500;
		if (e.rc == MB_OK)
			buf_addstr(&body, "{\"status\":\"flushed\"}");
		else
			sandbox_api_detail(&body, e.msg);
	}
	make_response(r, &a, &body);
	buf_release(&body);
}

/*
 * Whether to refuse an announced oversized body before reading it.  A
 * client that sent "Expect: 100-continue" waits for that answer; one that
 * did not is already sending, and many (Python's http.client among them)
 * fail on the closed socket before they read an early answer, so a body of
 * reasonable size is read and thrown away first.
 */
static int answer_early(struct MHD_Connection *con, unsigned long long size)
{
	const char *expect = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
		MHD_HTTP_HEADER_EXPECT);

	return (expect && !strcasecmp(expect, "100-continue")) ||
		size > DRAIN_MAX;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *con,
				 const char *url, const char *method,
				 const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	struct sandbox *sb = cls;
	struct request *r = *con_cls;
	const char *length;

	if (!r->started) {
		r->started = 1;
		length = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
			MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length && strtoull(length, NULL, 10) > SANDBOX_MAX_BODY &&
		    answer_early(con, strtoull(length, NULL, 10))) {
			/* Answer before reading a byte of it; libmicrohttpd
			 * then closes the connection after the answer. */
			r->body_size = strtoull(length, NULL, 10);
			r->too_large = 1;
			too_large(sb, r, url, method);
			return deliver(r, con);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		r->body_size += *upload_size;
		if (!r->too_large &&
		    buf_add(&r->body, upload, *upload_size) != MB_OK) {
			r->too_large = 1;
			buf_release(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->answered)
		return deliver(r, con);
	if (!strncmp(url, ADMIN_PREFIX, sizeof(ADMIN_PREFIX) - 1)) {
		admin(sb, r, url);
		return deliver(r, con);
	}
	if (r->too_large)
		too_large(sb, r, url, method);
	else
		process(sb, r, con, url, method);
	if (sb->latency_ms > 0 && !r->too_large && delay(sb, r, con))
		return MHD_YES;
	return deliver(r, con);
}

/* ---- background threads ------------------------------------------------- */

static void *delayer_main(void *arg)
{
	struct sandbox *sb = arg;
	struct request *r;
	struct timespec ts;

	pthread_mutex_lock(&sb->delay_lock);
	for (;;) {
		r = sb->delay_head;
		if (r && (sb->delay_closed || r->due_ms <= mono_ms())) {
			sb->delay_head = r->next;
			if (!sb->delay_head)
				sb->delay_tail = NULL;
			pthread_mutex_unlock(&sb->delay_lock);
			MHD_resume_connection(r->con);
			pthread_mutex_lock(&sb->delay_lock);
			continue;
		}
		if (sb->delay_closed)
			break;
		if (!r) {
			pthread_cond_wait(&sb->delay_wake, &sb->delay_lock);
		} else {
			ts = abs_time(r->due_ms);
			pthread_cond_timedwait(&sb->delay_wake,
					       &sb->delay_lock, &ts);
		}
	}
	pthread_mutex_unlock(&sb->delay_lock);
	return NULL;
}

static void *committer_main(void *arg)
{
	struct sandbox *sb = arg;
	struct err e = ERR_INIT;
	struct timespec ts;

	pthread_mutex_lock(&sb->wait_lock);
	while (!sb->stopping) {
		ts = abs_time(mono_ms() + sb->commit_ms);
		pthread_cond_timedwait(&sb->wake, &sb->wait_lock, &ts);
		pthread_mutex_unlock(&sb->wait_lock);
		pthread_mutex_lock(&sb->lock);
		if (sandbox_store_commit(&sb->store, &e) != MB_OK)
			note_failure(sb, &e);
		pthread_mutex_unlock(&sb->lock);
		pthread_mutex_lock(&sb->wait_lock);
	}
	pthread_mutex_unlock(&sb->wait_lock);
	return NULL;
}

/* Condition variables timed on the monotonic clock, as mono_ms(). */
static void cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* ---- opening and closing ------------------------------------------------ */

static enum mb_rc load_keys(struct sandbox *sb,
			    const struct sandbox_config *cfg, struct err *e)
{
	static const char *const fallback[] = { SANDBOX_DEFAULT_KEY };
	const char *const *specs = cfg->nkeys ? cfg->keys : fallback;
	size_t i, j, n = cfg->nkeys ? cfg->nkeys : 1;
	enum mb_rc rc;

	sb->keys = xcalloc(n, sizeof(*sb->keys));
	for (i = 0; i < n; i++) {
		rc = sandbox_key_parse(&sb->keys[i].spec, specs[i], e);
		if (rc != MB_OK) {
			err_prefix(e, "key %zu", i + 1);
			return rc;
		}
		sb->nkeys = i + 1;
		snprintf(sb->keys[i].label, sizeof(sb->keys[i].label),
			 "key%zu", i + 1);
		sandbox_rate_log_init(&sb->keys[i].log, &sb->rate);
		for (j = 0; j < i; j++)
			if (!strcmp(sb->keys[j].spec.key,
				    sb->keys[i].spec.key))
				return err_set(e, MB_EUSAGE, "--key: key %zu "
					       "repeats key %zu", i + 1,
					       j + 1);
	}
	return MB_OK;
}

static enum mb_rc load_faults(struct sandbox *sb,
			      const struct sandbox_config *cfg,
			      struct err *e)
{
	const char *p;
	size_t i;
	enum mb_rc rc;

	sb->fail_rate = cfg->fail_rate;
	sb->drop_rate = cfg->drop_rate;
	sb->lost_ack_rate = cfg->lost_ack_rate;
	if (!(sb->fail_rate >= 0 && sb->drop_rate >= 0 &&
	      sb->lost_ack_rate >= 0) ||
	    sb->fail_rate + sb->drop_rate + sb->lost_ack_rate > 1.0 + 1e-9)
		return err_set(e, MB_EUSAGE, "--fail-rate, --drop-rate and "
			       "--lost-ack-rate must add up to at most 1");
	sb->fault_paths = xcalloc(cfg->nfault_paths + 1,
				  sizeof(*sb->fault_paths));
	for (i = 0; i < cfg->nfault_paths; i++) {
		p = cfg->fault_paths[i];
		if (!strncmp(p, API_PREFIX "/", sizeof(API_PREFIX)))
			p += sizeof(API_PREFIX) - 1;
		if (*p != '/')
			return err_set(e, MB_EUSAGE, "--fault-paths '%s': a "
				       "path prefix starts with '/'",
				       cfg->fault_paths[i]);
		sb->fault_paths[sb->nfault_paths++] = xstrdup(p);
	}
	if (cfg->rate_storm) {
		rc = sandbox_storm_parse(cfg->rate_storm, &sb->storm_start_ms,
					 &sb->storm_end_ms, e);
		if (rc != MB_OK)
			return rc;
		sb->storm_start_ms += sb->start_ms;
		sb->storm_end_ms += sb->storm_start_ms;
	}
	sb->seed = cfg->seed;
	if (!cfg->seed_set &&
	    getrandom(&sb->seed, sizeof(sb->seed), 0) != sizeof(sb->seed))
		sb->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	sb->rng = sb->seed;
	return MB_OK;
}

static enum mb_rc load_unsubscribed(struct sandbox *sb, const char *path,
				    struct err *e)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *p, *end;
	size_t cap = 0;
	unsigned long lineno = 0;
	enum mb_rc rc = MB_OK;

	if (!f)
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s", path,
			       strerror(errno));
	while (rc == MB_OK && getline(&line, &cap, f) >= 0) {
		lineno++;
		for (p = line; isspace((unsigned char)*p); p++)
			;
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (!*p || *p == '#')
			continue;
		if (!sandbox_email_ok(p, (size_t)(end - p))) {
			rc = err_set(e, MB_EUSAGE, "'%s':%lu: '%.200s' is not "
				     "an email address", path, lineno, p);
			break;
		}
		for (end = p; *end; end++)
			*end = (char)tolower((unsigned char)*end);
		rc = sandbox_store_put_unsubscribed(&sb->store, p, e);
	}
	if (rc == MB_OK && ferror(f))
		rc = err_set(e, MB_EIO, "cannot read '%s': %s", path,
			     strerror(errno));
	free(line);
	fclose(f);
	return rc;
}

/* Sequences, unsubscribed addresses and triggers, in one transaction. */
static enum mb_rc load_state(struct sandbox *sb,
			     const struct sandbox_config *cfg, struct err *e)
{
	const char *status;
	char *slug = NULL, *name = NULL;
	size_t i;
	enum mb_rc rc;

	rc = sandbox_store_request_begin(&sb->store, e);
	for (i = 0; rc == MB_OK && i < cfg->nsequences; i++) {
		rc = sandbox_sequence_parse(cfg->sequences[i], &slug, &status,
					    e);
		if (rc != MB_OK)
			break;
		name = sandbox_sequence_name(slug);
		rc = sandbox_store_put_sequence(&sb->store, slug, name,
						status, e);
		free(slug);
		free(name);
	}
	for (i = 0; rc == MB_OK && i < cfg->nunsubscribed_files; i++)
		rc = load_unsubscribed(sb, cfg->unsubscribed_files[i], e);
	for (i = 0; rc == MB_OK && i < cfg->ntriggers; i++) {
		if (!*cfg->triggers[i])
			rc = err_set(e, MB_EUSAGE, "--trigger: empty key");
		else
			rc = sandbox_store_put_trigger(&sb->store,
						       cfg->triggers[i], e);
	}
	if (rc == MB_OK)
		rc = sandbox_store_request_end(&sb->store, 1, e);
	if (rc == MB_OK)
		rc = sandbox_store_commit(&sb->store, e);
	return rc;
}

/* Bind 127.0.0.1:port ourselves, for a precise error and the real port. */
static enum mb_rc listen_socket(unsigned port, int *fd_out,
				unsigned *port_out, struct err *e)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, MB_EIO, "cannot create a socket: %s",
			       strerror(errno));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(fd, 1024) ||
	    getsockname(fd, (struct sockaddr *)&addr, &len)) {
		err_set(e, MB_EIO, "cannot listen on 127.0.0.1:%u: %s", port,
			strerror(errno));
		close(fd);
		return MB_EIO;
	}
	*fd_out = fd;
	*port_out = ntohs(addr.sin_port);
	return MB_OK;
}

static enum mb_rc start_daemon(struct sandbox *sb,
			       const struct sandbox_config *cfg, int fd,
			       struct err *e)
{
	unsigned threads = cfg->threads ? cfg->threads : DEFAULT_THREADS;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
		MHD_USE_TURBO;

	if (sb->latency_ms > 0)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	if (cfg->verbose)
		flags |= MHD_USE_ERROR_LOG;
	sb->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, sb,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, sb,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, sb,
		MHD_OPTION_CONNECTION_TIMEOUT, 120u,
		MHD_OPTION_END);
	if (!sb->daemon) {
		close(fd);
		return err_set(e, MB_EIO, "cannot start the HTTP server on "
			       "port %u", sb->port);
	}
	return MB_OK;
}

static enum mb_rc start_threads(struct sandbox *sb, struct err *e)
{
	int err = pthread_create(&sb->committer, NULL, committer_main, sb);

	if (err)
		return err_set(e, MB_EINTERNAL, "cannot start a thread: %s",
			       strerror(err));
	sb->committer_started = 1;
	if (sb->latency_ms <= 0)
		return MB_OK;
	err = pthread_create(&sb->delayer, NULL, delayer_main, sb);
	if (err)
		return err_set(e, MB_EINTERNAL, "cannot start a thread: %s",
			       strerror(err));
	sb->delayer_started = 1;
	return MB_OK;
}

static enum mb_rc configure(struct sandbox *sb,
			    const struct sandbox_config *cfg, struct err *e)
{
	enum mb_rc rc;

	rc = sandbox_rate_parse(&sb->rate, cfg->rate ? cfg->rate :
				SANDBOX_RATE_DEFAULT, e);
	if (rc != MB_OK) {
		err_prefix(e, "--rate");
		return rc;
	}
	if (cfg->latency_ms < 0 || cfg->commit_ms < 0)
		return err_set(e, MB_EUSAGE, "--latency-ms and --commit-ms "
			       "cannot be negative");
	sb->latency_ms = cfg->latency_ms;
	sb->commit_ms = cfg->commit_ms ? cfg->commit_ms : DEFAULT_COMMIT_MS;
	sb->no_retry_after = cfg->no_retry_after;
	if ((rc = load_keys(sb, cfg, e)) != MB_OK)
		return rc;
	return load_faults(sb, cfg, e);
}

enum mb_rc sandbox_open(struct sandbox **out,
			const struct sandbox_config *cfg, struct err *e)
{
	struct sandbox *sb = xcalloc(1, sizeof(*sb));
	enum mb_rc rc;
	int fd = -1;

	pthread_mutex_init(&sb->lock, NULL);
	pthread_mutex_init(&sb->wait_lock, NULL);
	pthread_mutex_init(&sb->delay_lock, NULL);
	cond_init(&sb->wake);
	cond_init(&sb->delay_wake);
	sb->start_ms = mono_ms();
	if ((rc = configure(sb, cfg, e)) != MB_OK ||
	    (rc = sandbox_store_open(&sb->store, cfg->db_path, e)) != MB_OK ||
	    (rc = load_state(sb, cfg, e)) != MB_OK ||
	    (rc = listen_socket(cfg->port, &fd, &sb->port, e)) != MB_OK ||
	    (rc = start_daemon(sb, cfg, fd, e)) != MB_OK ||
	    (rc = start_threads(sb, e)) != MB_OK) {
		sandbox_close(sb, NULL);
		return rc;
	}
	*out = sb;
	return MB_OK;
}

unsigned sandbox_port(const struct sandbox *sb)
{
	return sb->port;
}

uint64_t sandbox_seed(const struct sandbox *sb)
{
	return sb->seed;
}

enum mb_rc sandbox_check(struct sandbox *sb, struct err *e)
{
	enum mb_rc rc;

	pthread_mutex_lock(&sb->lock);
	rc = sb->failure.rc;
	if (rc != MB_OK && e)
		*e = sb->failure;
	pthread_mutex_unlock(&sb->lock);
	return rc;
}

static void stop_threads(struct sandbox *sb)
{
	if (sb->delayer_started) {
		pthread_mutex_lock(&sb->delay_lock);
		sb->delay_closed = 1;
		pthread_cond_signal(&sb->delay_wake);
		pthread_mutex_unlock(&sb->delay_lock);
		pthread_join(sb->delayer, NULL);
	}
	if (sb->daemon)
		MHD_stop_daemon(sb->daemon);
	if (sb->committer_started) {
		pthread_mutex_lock(&sb->wait_lock);
		sb->stopping = 1;
		pthread_cond_signal(&sb->wake);
		pthread_mutex_unlock(&sb->wait_lock);
		pthread_join(sb->committer, NULL);
	}
}

enum mb_rc sandbox_close(struct sandbox *sb, struct err *e)
{
	enum mb_rc rc;
	size_t i;

	if (!sb)
		return MB_OK;
	stop_threads(sb);
	rc = sb->store.db ? sandbox_store_commit(&sb->store, e) : MB_OK;
	if (rc == MB_OK && sb->failure.rc != MB_OK) {
		rc = sb->failure.rc;
		if (e)
			*e = sb->failure;
	}
	sandbox_store_close(&sb->store);
	for (i = 0; i < sb->nkeys; i++) {
		sandbox_key_spec_release(&sb->keys[i].spec);
		sandbox_rate_log_release(&sb->keys[i].log);
	}
	free(sb->keys);
	for (i = 0; i < sb->nfault_paths; i++)
		free(sb->fault_paths[i]);
	free(sb->fault_paths);
	pthread_cond_destroy(&sb->wake);
	pthread_cond_destroy(&sb->delay_wake);
	pthread_mutex_destroy(&sb->lock);
	pthread_mutex_destroy(&sb->wait_lock);
	pthread_mutex_destroy(&sb->delay_lock);
	free(sb);
	return rc;
}
