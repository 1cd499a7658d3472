/*
 * meisa: paced, retried one-shot calls and the reading of Meisa's answers.
 */
#include "meisa.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "clock.h"
#include "json.h"
#include "trace.h"
#include "xalloc.h"

/* The members are this file's alone (push and cmd use the functions). */
struct meisa {
	struct meisa_opts opts;
	struct http http;
	struct ratelimit rl;
	sqlite3 *json;           /* owned: a private in-memory connection for
				    reading answers (meisa_open opens it) */
	uint64_t requests;       /* sent by this process */
	uint64_t retries;        /* re-sends after 5xx/transport errors */
	uint64_t throttled;      /* 429 answers */
	uint64_t rng;
	struct giveup giveup;    /* the run's failure streak */
	struct trace *trace;     /* --trace, or NULL */
	sig_atomic_t resumes_seen;
};

static int64_t opt_or(int64_t value, int64_t fallback)
{
	return value > 0 ? value : fallback;
}

/*
 * Answers are read with SQLite's JSON functions on a private in-memory
 * connection: no caller's handle (the staging file's) runs our queries.
 */
static enum mb_rc open_json(struct meisa *m, struct err *e)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	if (sqlite3_open_v2(":memory:", &m->json, flags, NULL) == SQLITE_OK)
		return MB_OK;
	err_set(e, MB_EINTERNAL, "cannot open SQLite to read answers: %s",
		m->json ? sqlite3_errmsg(m->json) : "out of memory");
	sqlite3_close(m->json);
	m->json = NULL;
	return MB_EINTERNAL;
}

enum mb_rc meisa_open(struct meisa **out, const struct meisa_opts *opts,
		      struct err *e)
{
	struct http_opts ho = HTTP_OPTS_INIT;
	struct meisa *m = xcalloc(1, sizeof(*m));
	enum mb_rc rc;

	*out = m;
	m->opts = *opts;
	m->rl = (struct ratelimit)RATELIMIT_INIT;
	m->http = (struct http)HTTP_INIT;
	backoff_seed(&m->rng, (uint64_t)clock_wall_ms());
	giveup_init(&m->giveup, opts->give_up_ms);
	if (!opts->api_key || !*opts->api_key)
		return err_set(e, MB_EAUTH, "no API key: set MEISA_API_KEY or"
			       " use --api-key-file");
	rc = open_json(m, e);
	if (rc != MB_OK)
		return rc;
	rc = ratelimit_parse(&m->rl, opts->rate ? opts->rate : "60/m,1000/h",
			     e);
	if (rc != MB_OK)
		return rc;
	if (opts->trace_path)
		rc = trace_open(&m->trace, opts->trace_path,
				opts->trace_bodies, opts->api_key, e);
	if (rc != MB_OK)
		return rc;
	ho.base_url = opts->base_url ? opts->base_url : MEISA_DEFAULT_BASE_URL;
	ho.api_key = opts->api_key;
	ho.insecure = opts->insecure;
	ho.max_connections = opts->concurrency ? opts->concurrency : 4;
	ho.stop = opts->stop;    /* a signal ends a wait at once */
	return http_open(&m->http, &ho, e);
}

void meisa_close(struct meisa *m)
{
	if (!m)
		return;
	http_close(&m->http);
	trace_close(m->trace);
	ratelimit_release(&m->rl);
	sqlite3_close(m->json);
	free(m);
}

const char *meisa_base_url(const struct meisa *m)
{
	return m->opts.base_url ? m->opts.base_url : MEISA_DEFAULT_BASE_URL;
}

int meisa_stopping(const struct meisa *m)
{
	return m->opts.stop && *m->opts.stop;
}

/* Sleep up to ms, waking early when a signal sets the stop flag. */
static void nap(const struct meisa *m, int64_t ms)
{
	while (ms > 0 && !meisa_stopping(m)) {
		int64_t step = ms > 100 ? 100 : ms;

		poll(NULL, 0, (int)step);
		ms -= step;
	}
}

int64_t meisa_waiting(const struct meisa *m, int64_t now_ms, char *why,
		      size_t size)
{
	const struct ratelimit_window *w;
	int64_t wait = ratelimit_wait_ms(&m->rl, now_ms);
	int64_t own = ratelimit_own_wait_ms(&m->rl, now_ms, &w);

	if (wait <= 0)
		return 0;
	if (w && own >= wait)
		snprintf(why, size, "the %u/%s window", w->limit,
			 w->span_ms >= 3600000 ? "h" : w->span_ms >= 60000 ?
			 "m" : "s");
	else if (m->rl.paused_until_ms - now_ms >= wait)
		snprintf(why, size, "Meisa's Retry-After");
	else
		snprintf(why, size, "the pace slowed by 429s");
	return wait;
}

enum mb_rc meisa_tick(struct meisa *m, struct err *e)
{
	int64_t now = clock_mono_ms();
	int resumed = 0;

	if (m->opts.resumed && *m->opts.resumed != m->resumes_seen) {
		m->resumes_seen = *m->opts.resumed;
		resumed = 1;
	}
	if (giveup_tick(&m->giveup, now, ratelimit_own_wait_ms(&m->rl, now,
			NULL) > 0, resumed))
		return giveup_error(&m->giveup, e);
	return MB_OK;
}

/* Nap ms in short steps, ticking the give-up rule after each. */
static enum mb_rc wait_ticking(struct meisa *m, int64_t ms, struct err *e)
{
	enum mb_rc rc = MB_OK;

	while (rc == MB_OK && ms > 0 && !meisa_stopping(m)) {
		int64_t step = ms > 100 ? 100 : ms;

		nap(m, step);
		ms -= step;
		rc = meisa_tick(m, e);
	}
	return rc;
}

enum mb_rc meisa_pace(struct meisa *m, struct err *e)
{
	enum mb_rc rc = meisa_tick(m, e);
	int64_t wait;
	char why[64];
	int told = 0;

	while (rc == MB_OK && (wait = meisa_waiting(m, clock_mono_ms(), why,
						    sizeof(why))) > 0) {
		if (meisa_stopping(m))
			break;
		if (!told++ && wait >= 1000 && m->opts.on_wait)
			m->opts.on_wait(m->opts.wait_ctx, wait, why);
		rc = wait_ticking(m, wait, e);
	}
	if (rc == MB_OK && meisa_stopping(m))
		rc = err_set(e, MB_ESTOPPED, "stopped");
	return rc;
}

/* A send at now_ms (monotonic): the limiter, the counters, the caller. */
static void record_send(struct meisa *m, int64_t now_ms)
{
	ratelimit_record(&m->rl, now_ms);
	m->requests++;
	if (m->opts.on_send)
		m->opts.on_send(m->opts.ctx, clock_wall_ms());
}

void meisa_sent(struct meisa *m)
{
	record_send(m, clock_mono_ms());
}

/* req goes out (again): counted as a send, stamped for the trace. */
static void stamp(struct meisa *m, struct http_request *req)
{
	req->sent_mono_ms = clock_mono_ms();
	req->sent_wall_ms = clock_wall_ms();
	req->attempt++;
	record_send(m, req->sent_mono_ms);
}

/* req came back: its lines in the trace, the caller told. */
static void answered(struct meisa *m, const struct http_request *req)
{
	struct err e = ERR_INIT;

	if (req->wire_ms)
		ratelimit_answered(&m->rl, req->sent_mono_ms, req->wire_ms,
				   clock_mono_ms());
	if (m->trace && trace_request(m->trace, req, &e) != MB_OK) {
		/* A diagnostic that fails must not fail the run. */
		if (m->opts.on_warning)
			m->opts.on_warning(m->opts.report_ctx, e.msg);
		trace_close(m->trace);
		m->trace = NULL;
	}
	if (m->opts.on_answer)
		m->opts.on_answer(m->opts.report_ctx, req);
}

void meisa_resent(struct meisa *m, const struct http_request *req)
{
	unsigned i;

	for (i = 1; i < req->sends; i++)
		meisa_sent(m);
}

void meisa_answer_text(const struct http_request *req, char *out,
		       size_t size)
{
	const char *body = buf_str(&req->response);
	size_t i, n = 0;

	if (!req->status) {
		snprintf(out, size, "%s", req->errbuf[0] ? req->errbuf :
			 "no answer");
		return;
	}
	for (i = 0; body[i] && n + 1 < size && n < 300; i++)
		out[n++] = (body[i] == '\n' || body[i] == '\r') ? ' ' : body[i];
	out[n] = '\0';
}

enum mb_rc meisa_answer_error(const struct http_request *req, enum mb_rc rc,
			      const char *what, struct err *e)
{
	char text[512];

	meisa_answer_text(req, text, sizeof(text));
	if (!req->status)
		return err_set(e, rc, "%s: %s", what, text);
	return err_set(e, rc, "%s: Meisa answered %ld: %s", what,
		       req->status, text[0] ? text : "(empty body)");
}

enum meisa_verdict meisa_classify(const struct http_request *req)
{
	long status = req->status;

	if (!status) {
		/* A certificate that fails verification will not get better. */
		if (req->curl_code == CURLE_PEER_FAILED_VERIFICATION ||
		    req->curl_code == CURLE_SSL_CACERT_BADFILE ||
		    req->curl_code == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
			return MEISA_TLS;
		return MEISA_RETRY;
	}
	if (status / 100 == 2)
		return MEISA_DONE;
	if (status == 401 || status == 403)
		return MEISA_AUTH;
	if (status == 429)
		return MEISA_THROTTLED;
	if (status == 408 || status == 425 || status >= 500 || status < 200)
		return MEISA_RETRY;
	if (status / 100 == 3)
		return MEISA_REDIRECT;
	return MEISA_REFUSED;
}

enum mb_rc meisa_stop_error(const struct http_request *req,
			    enum meisa_verdict verdict, struct err *e)
{
	switch (verdict) {
	case MEISA_AUTH:
		return meisa_answer_error(req, MB_EAUTH, req->status == 401 ?
					  "the API key was refused" :
					  "the API key lacks a scope", e);
	case MEISA_REDIRECT:
		/* Following it would send the key wherever it points. */
		return err_set(e, MB_EUNAVAILABLE, "the API answered %ld with"
			       " a redirect to %s; check MEISA_BASE_URL",
			       req->status, req->location[0] ? req->location :
			       "(no Location)");
	case MEISA_TLS:
		return meisa_answer_error(req, MB_EUNAVAILABLE,
			"the server's TLS certificate failed verification"
			" (not retried)", e);
	default:
		return err_set(e, MB_EINTERNAL, "answer %ld does not stop the"
			       " run", req->status);
	}
}

void meisa_final(struct meisa *m)
{
	giveup_answer(&m->giveup);
	ratelimit_on_success(&m->rl);
}

static const char *reason(long status)
{
	switch (status) {
	case 408: return " Request Timeout";
	case 425: return " Too Early";
	case 429: return " Too Many Requests";
	case 500: return " Internal Server Error";
	case 502: return " Bad Gateway";
	case 503: return " Service Unavailable";
	case 504: return " Gateway Timeout";
	}
	return "";
}

/* "503 Service Unavailable: <body>" or the transport error's text. */
static void describe(const struct http_request *req, char *out, size_t size)
{
	char text[300];

	meisa_answer_text(req, text, sizeof(text));
	if (!req->status)
		snprintf(out, size, "%s", text);
	else
		snprintf(out, size, "%ld%s: %s", req->status,
			 reason(req->status), text[0] ? text : "(empty body)");
}

void meisa_failed(struct meisa *m, const struct http_request *req)
{
	char what[GIVEUP_LAST_MAX];

	m->retries++;
	describe(req, what, sizeof(what));
	giveup_failure(&m->giveup, what);
}

int64_t meisa_backoff_ms(struct meisa *m, unsigned attempt)
{
	return backoff_delay_ms(attempt, opt_or(m->opts.backoff_base_ms, 500),
				opt_or(m->opts.backoff_cap_ms, 30000),
				&m->rng);
}

enum mb_rc meisa_throttled(struct meisa *m, const struct http_request *req,
			   struct err *e)
{
	char what[GIVEUP_LAST_MAX];
	int64_t now = clock_mono_ms(), own;

	m->throttled++;
	/* What our own windows would impose anyway, before the pause. */
	own = ratelimit_own_wait_ms(&m->rl, now, NULL);
	ratelimit_on_429(&m->rl, now, req->retry_after_ms);
	describe(req, what, sizeof(what));
	if (giveup_on_429(&m->giveup, now, m->rl.paused_until_ms - now,
			  req->retry_after_ms, own, what))
		return giveup_error(&m->giveup, e);
	return MB_OK;
}

enum mb_rc meisa_call(struct meisa *m, struct http_request *req,
		      struct err *e)
{
	enum meisa_verdict verdict;
	unsigned attempt = 0;
	enum mb_rc rc;

	for (;;) {
		rc = meisa_pace(m, e);
		if (rc == MB_OK && m->opts.before_send)
			rc = m->opts.before_send(m->opts.ctx, e);
		if (rc != MB_OK)
			return rc;
		stamp(m, req);
		rc = http_do(&m->http, req, e);
		if (rc != MB_OK)
			return rc;
		answered(m, req);
		meisa_resent(m, req);
		verdict = meisa_classify(req);
		if (verdict == MEISA_DONE || verdict == MEISA_REFUSED) {
			meisa_final(m);
			return MB_OK;
		}
		if (verdict == MEISA_THROTTLED)
			rc = meisa_throttled(m, req, e);
		else if (verdict != MEISA_RETRY)
			return meisa_stop_error(req, verdict, e);
		else {
			meisa_failed(m, req);
			rc = wait_ticking(m, meisa_backoff_ms(m, attempt++), e);
		}
		if (rc == MB_OK)
			rc = meisa_tick(m, e);
		if (rc != MB_OK)
			return rc;
	}
}

/* Run a one-row, one-column query over an answer body; NULL -> "". */
static enum mb_rc json_text(struct meisa *m, const char *sql,
			    const struct buf *body, struct buf *out,
			    struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc = MB_OK;
	int step;

	buf_reset(out);
	if (sqlite3_prepare_v2(m->json, sql, -1, &s, NULL) != SQLITE_OK)
		return err_set(e, MB_EINTERNAL, "cannot read answer: %s",
			       sqlite3_errmsg(m->json));
	sqlite3_bind_text(s, 1, buf_str(body), (int)body->len, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);

		if (t)
			rc = buf_addstr(out, (const char *)t);
	} else if (step != SQLITE_DONE) {
		/* Never "no value": an unread list would be read as empty. */
		rc = err_set(e, MB_EINTERNAL, "cannot read answer: %s",
			     sqlite3_errmsg(m->json));
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * The first max characters of an answer for a message, on one line and
 * without control characters (a terminal shows it), "..." when shortened.
 */
static void excerpt(const struct http_request *req, size_t max, char *out,
		    size_t size)
{
	const char *body = buf_str(&req->response);
	size_t i, n = 0;

	for (i = 0; body[i] && i < max && n + 4 < size; i++)
		out[n++] = (unsigned char)body[i] < 0x20 ? ' ' : body[i];
	if (body[i])
		n += (size_t)snprintf(out + n, size - n, "...");
	out[n] = '\0';
}

/*
 * A 2xx whose body is not a JSON object is a portal page, a proxy or a
 * wrong base URL, not Meisa: read as an empty scope list it sent the
 * operator to the key's scopes.
 */
static enum mb_rc check_ping_answer(struct meisa *m,
				    const struct http_request *req,
				    struct err *e)
{
	struct buf type = BUF_INIT;
	char text[160];
	enum mb_rc rc;

	rc = json_text(m, "SELECT CASE WHEN json_valid(?1) THEN json_type(?1)"
		       " END", &req->response, &type, e);
	if (rc == MB_OK && strcmp(buf_str(&type), "object") != 0) {
		excerpt(req, 100, text, sizeof(text));
		rc = err_set(e, MB_EPROTO, "the API answered %ld with %s (%s:"
			     " '%s'); check MEISA_BASE_URL", req->status,
			     type.len ? "a JSON answer that is not an object" :
			     "a non-JSON body", req->content_type[0] ?
			     req->content_type : "no content type", text);
	}
	buf_release(&type);
	return rc;
}

enum mb_rc meisa_ping(struct meisa *m, struct meisa_key_info *info,
		      struct err *e)
{
	struct http_request *req = http_request_new("GET", "/ping/", NULL, 0,
						    NULL);
	struct buf env = BUF_INIT;
	enum mb_rc rc;

	rc = meisa_call(m, req, e);
	if (rc == MB_OK && req->status / 100 != 2)
		rc = meisa_answer_error(req, MB_EPROTO, "ping failed", e);
	if (rc == MB_OK)
		rc = check_ping_answer(m, req, e);
	if (rc == MB_OK)
		rc = json_text(m, "SELECT json_extract(?1, '$.environment')",
			       &req->response, &env, e);
	if (rc == MB_OK)
		rc = json_text(m, "SELECT group_concat(value, ',') FROM"
			       " json_each(?1, '$.scopes')",
			       &req->response, &info->scopes, e);
	if (rc == MB_OK) {
		const char *v = buf_str(&env);

		if (!*v)
			v = strncmp(m->opts.api_key, "meisa_live_", 11) == 0 ?
				"live" : "unknown";
		snprintf(info->environment, sizeof(info->environment), "%s", v);
	}
	buf_release(&env);
	http_request_free(req);
	return rc;
}

int meisa_has_scope(const struct meisa_key_info *info, const char *scope)
{
	const char *p = buf_str(&info->scopes);
	size_t n = strlen(scope);

	while ((p = strstr(p, scope)) != NULL) {
		int starts = p == buf_str(&info->scopes) || p[-1] == ',';

		if (starts && (p[n] == '\0' || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

static enum mb_rc get_path(struct meisa *m, const char *path,
			   struct buf *out, const char *what, struct err *e)
{
	struct http_request *req = http_request_new("GET", path, NULL, 0,
						    NULL);
	enum mb_rc rc;

	rc = meisa_call(m, req, e);
	if (rc == MB_OK && req->status / 100 != 2)
		rc = meisa_answer_error(req, MB_EPROTO, what, e);
	if (rc == MB_OK)
		rc = buf_set(out, req->response.data ? req->response.data : "",
			     req->response.len);
	http_request_free(req);
	return rc;
}

/* Percent-encode a query value (RFC 3986 unreserved characters kept). */
static enum mb_rc url_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum mb_rc rc = MB_OK;

	for (; *s && rc == MB_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c))
			rc = buf_addch(out, (char)c);
		else
			rc = buf_printf(out, "%%%c%c", hex[c >> 4],
					hex[c & 15]);
	}
	return rc;
}

enum mb_rc meisa_sequences(struct meisa *m, const char *search,
			   struct buf *out, struct err *e)
{
	struct buf path = BUF_INIT, raw = BUF_INIT;
	enum mb_rc rc;

	rc = buf_addstr(&path, "/sequences/api/list/?status=all");
	if (rc == MB_OK && search && *search) {
		rc = buf_addstr(&path, "&search=");
		if (rc == MB_OK)
			rc = url_escape(&path, search);
	}
	if (rc == MB_OK)
		rc = get_path(m, path.data, &raw, "cannot list sequences", e);
	/* Meisa's documented shape is {count, results}; accept a bare array. */
	if (rc == MB_OK)
		rc = json_text(m, "SELECT json_group_array(json_object("
			       "'slug', json_extract(value, '$.slug'),"
			       " 'name', json_extract(value, '$.name'),"
			       " 'status', json_extract(value, '$.status')))"
			       " FROM json_each(CASE WHEN NOT json_valid(?1)"
			       " THEN '[]' WHEN json_type(?1) = 'array' THEN ?1"
			       " ELSE coalesce(json_extract(?1, '$.results'),"
			       " '[]') END)", &raw, out, e);
	buf_release(&path);
	buf_release(&raw);
	return rc;
}

/*
 * What is wrong with an unsubscribed list (?1), or NULL when it is the
 * documented {as_of, count, emails} (count may be absent) or a bare array
 * of addresses.  Read as an empty list, any other shape let the addresses
 * it held be enrolled.
 */
static const char unsubscribed_problem_sql[] =
	"SELECT CASE"
	" WHEN NOT json_valid(?1) THEN 'not JSON'"
	" WHEN json_type(?1) NOT IN ('object', 'array')"
	"  THEN 'neither an object nor an array'"
	" WHEN json_type(?1) = 'object' AND json_type(?1, '$.emails') IS NULL"
	"  THEN 'no \"emails\" in it'"
	" WHEN json_type(?1) = 'object'"
	"  AND json_type(?1, '$.emails') <> 'array'"
	"  THEN '\"emails\" is not an array'"
	" WHEN json_type(?1) = 'object'"
	"  AND json_type(?1, '$.count') IS NOT NULL"
	"  AND (json_type(?1, '$.count') <> 'integer' OR json_extract(?1,"
	"  '$.count') <> json_array_length(?1, '$.emails'))"
	"  THEN printf('\"count\" is %s but \"emails\" holds %d',"
	"  json_quote(json_extract(?1, '$.count')),"
	"  json_array_length(?1, '$.emails'))"
	" WHEN EXISTS (SELECT 1 FROM json_each(?1, CASE json_type(?1) WHEN"
	"  'array' THEN '$' ELSE '$.emails' END) WHERE type <> 'text')"
	"  THEN 'an entry is not a string'"
	" END";

/* A checked list (?1) as {as_of, count, emails}. */
static const char unsubscribed_object_sql[] =
	"SELECT json_object('as_of', CASE json_type(?1) WHEN 'object' THEN"
	" json_extract(?1, '$.as_of') END, 'count', json_array_length(?1,"
	" p.path), 'emails', json(json_extract(?1, p.path))) FROM (SELECT"
	" CASE json_type(?1) WHEN 'array' THEN '$' ELSE '$.emails' END"
	" AS path) p";

enum mb_rc meisa_unsubscribed(struct meisa *m, struct buf *out,
			      struct err *e)
{
	struct http_request *req = http_request_new("GET",
		"/contacts/api/unsubscribed-emails/", NULL, 0, NULL);
	struct buf problem = BUF_INIT;
	char text[160];
	enum mb_rc rc;

	rc = meisa_call(m, req, e);
	if (rc == MB_OK && req->status / 100 != 2)
		rc = meisa_answer_error(req, MB_EPROTO, "cannot fetch Meisa's"
					" unsubscribed list", e);
	if (rc == MB_OK)
		rc = json_text(m, unsubscribed_problem_sql, &req->response,
			       &problem, e);
	if (rc == MB_OK && problem.len) {
		excerpt(req, 100, text, sizeof(text));
		rc = err_set(e, MB_EPROTO, "cannot use Meisa's unsubscribed"
			     " list (%s): received %ld %s '%s'", problem.data,
			     req->status, req->content_type[0] ?
			     req->content_type : "(no content type)", text);
	}
	if (rc == MB_OK)
		rc = json_text(m, unsubscribed_object_sql, &req->response, out,
			       e);
	buf_release(&problem);
	http_request_free(req);
	return rc;
}

/*
 * Every row of a query over json (?1) with ncols text columns, cell by
 * cell, appended to cells (a NULL cell as "").  A failed step is an
 * error: a list cut short must not pass for the whole of it.
 */
static enum mb_rc json_rows(struct meisa *m, const char *sql,
			    const char *json, int ncols,
			    struct meisa_strings *cells, struct err *e)
{
	sqlite3_stmt *s = NULL;
	size_t cap = cells->count;
	int step, i;

	if (sqlite3_prepare_v2(m->json, sql, -1, &s, NULL) != SQLITE_OK)
		return err_set(e, MB_EINTERNAL, "cannot read answer: %s",
			       sqlite3_errmsg(m->json));
	sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (cells->count + (size_t)ncols > cap) {
			cap = cap ? cap * 2 : 64;
			cells->items = xrealloc(cells->items,
						cap * sizeof(char *));
		}
		for (i = 0; i < ncols; i++) {
			const char *t = (const char *)
				sqlite3_column_text(s, i);

			cells->items[cells->count++] = xstrdup(t ? t : "");
		}
	}
	sqlite3_finalize(s);
	if (step != SQLITE_DONE)
		return err_set(e, MB_EINTERNAL, "cannot read answer: %s",
			       sqlite3_errmsg(m->json));
	return MB_OK;
}

void meisa_strings_release(struct meisa_strings *list)
{
	while (list->count)
		free(list->items[--list->count]);
	free(list->items);
	list->items = NULL;
}

enum mb_rc meisa_unsubscribed_emails(struct meisa *m, const char *json,
				     struct meisa_strings *out,
				     struct err *e)
{
	struct meisa_strings got = MEISA_STRINGS_INIT;
	enum mb_rc rc;

	rc = json_rows(m, "SELECT value FROM json_each(?1, '$.emails')"
		       " WHERE json_valid(?1) ORDER BY 1", json, 1, &got, e);
	if (rc == MB_OK) {
		meisa_strings_release(out);
		*out = got;
	} else {
		meisa_strings_release(&got);
	}
	return rc;
}

void meisa_sequence_list_release(struct meisa_sequence_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		free(list->items[i].slug);
		free(list->items[i].name);
		free(list->items[i].status);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

enum mb_rc meisa_sequence_list(struct meisa *m, const char *json,
			       struct meisa_sequence_list *list,
			       struct err *e)
{
	struct meisa_strings cells = MEISA_STRINGS_INIT;
	enum mb_rc rc;
	size_t i, n;

	rc = json_rows(m, "SELECT json_extract(value, '$.slug'),"
		       " json_extract(value, '$.name'), json_extract(value,"
		       " '$.status') FROM json_each(?1)", json, 3, &cells, e);
	if (rc != MB_OK) {
		meisa_strings_release(&cells);
		return rc;
	}
	meisa_sequence_list_release(list);
	n = cells.count / 3;
	list->items = n ? xcalloc(n, sizeof(*list->items)) : NULL;
	/* The strings change hands: the list frees them now. */
	for (i = 0; i < n; i++) {
		list->items[i].slug = cells.items[3 * i];
		list->items[i].name = cells.items[3 * i + 1];
		list->items[i].status = cells.items[3 * i + 2];
	}
	list->count = n;
	free(cells.items);
	return MB_OK;
}

/* ---- what push's parallel loop needs, without reaching inside -------- */


enum mb_rc meisa_submit(struct meisa *m, struct http_request *req,
			struct err *e)
{
	stamp(m, req);
	return http_submit(&m->http, req, e);
}

enum mb_rc meisa_wait(struct meisa *m, int timeout_ms, struct err *e)
{
	return http_wait(&m->http, timeout_ms, e);
}

struct http_request *meisa_next_done(struct meisa *m)
{
	struct http_request *req = http_next_done(&m->http);

	if (req)
		answered(m, req);
	return req;
}

size_t meisa_in_flight(const struct meisa *m)
{
	return http_in_flight(&m->http);
}

void meisa_counters(const struct meisa *m, struct meisa_counters *c)
{
	c->requests = m->requests;
	c->retries = m->retries;
	c->throttled = m->throttled;
}

uint64_t meisa_requests(const struct meisa *m)
{
	return m->requests;
}

int64_t meisa_limit_wait_ms(const struct meisa *m, int64_t now_ms)
{
	return ratelimit_wait_ms(&m->rl, now_ms);
}

int meisa_limited(const struct meisa *m)
{
	return m->rl.nwindows != 0;
}

int64_t meisa_estimate_ms(const struct meisa *m, uint64_t n, int64_t now_ms)
{
	return ratelimit_estimate_ms(&m->rl, n, now_ms);
}

int64_t meisa_horizon_ms(const struct meisa *m)
{
	return ratelimit_horizon_ms(&m->rl);
}

void meisa_replay_send(struct meisa *m, int64_t t_ms)
{
	ratelimit_record(&m->rl, t_ms);
}

enum mb_rc meisa_sequence_status(struct meisa *m, const struct buf *list,
				 const char *slug, struct buf *status,
				 struct err *e)
{
	struct buf both = BUF_INIT;
	enum mb_rc rc;

	/* One JSON text holds both, as json_text reads one argument. */
	rc = buf_addstr(&both, "{\"slug\": ");
	if (rc == MB_OK)
		rc = json_add_string(&both, slug, strlen(slug));
	if (rc == MB_OK)
		rc = buf_printf(&both, ", \"list\": %s}", buf_str(list));
	if (rc == MB_OK)
		rc = json_text(m, "SELECT coalesce(json_extract(value,"
			       " '$.status'), 'active') FROM json_each(?1,"
			       " '$.list') WHERE json_extract(value, '$.slug')"
			       " = json_extract(?1, '$.slug')", &both, status,
			       e);
	buf_release(&both);
	return rc;
}
