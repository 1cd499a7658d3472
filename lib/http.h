/*
 * http: the Meisa client's transport, on libcurl's multi interface.
 *
 * One multi handle; a pool of easy handles reused so connections stay alive;
 * HTTP/2 multiplexing where the server offers it (CURLOPT_PIPEWAIT); connect
 * and total timeouts on every transfer; TLS verification always on unless
 * the caller passed insecure (and then cmd/ warns on every run).  The API key
 * is put in an "X-API-Key" header built once; it never appears in a URL, a
 * message or a log.  Response bodies are read into a capped buffer.
 *
 *   struct http h = HTTP_INIT;
 *   rc = http_open(&h, &opts, &e);
 *   req = http_request_new("POST", "/contacts/upsert/", body, len, tag);
 *   http_submit(&h, req);
 *   while (http_in_flight(&h)) {
 *           http_wait(&h, timeout_ms, &e);       (runs transfers)
 *           while ((req = http_next_done(&h)))    (finished ones, in order)
 *                   ... req->status, req->response ...; http_request_free(req);
 *   }
 *   http_close(&h);
 *
 * A transfer that failed below HTTP (refused, reset, timeout, a response
 * body over HTTP_RESPONSE_MAX) finishes with status 0, curl_code set and
 * errbuf holding libcurl's text (or "response body too large ...").
 *
 * libcurl sends a request again by itself, on a fresh connection, when the
 * reused connection it went out on closes before any answer: the server
 * may have seen both.  sends counts every time the request went out
 * (CURLOPT_PREREQFUNCTION), so callers can count requests as the server
 * does; 0 when no connection was made.
 *
 * Every request carries Content-Type and Accept: application/json, the key
 * and User-Agent meisa-bulk/MB_VERSION; "Expect:" is suppressed so a large
 * POST never stalls waiting for 100-continue.  Redirects are not followed
 * and only http and https URLs are allowed.
 *
 * Threads: http_open and http_close call curl_global_init / cleanup (first
 * open, last close), which are not thread-safe: open and close from the main
 * thread, before other threads use libcurl.  One struct http is used by one
 * thread at a time.
 *
 * Ownership: a submitted request belongs to h until http_next_done hands it
 * back (http_do hands it back itself).  http_close frees every request h
 * still holds, in flight (aborted) or finished but not collected: the caller
 * must not touch those afterwards.
 */
#ifndef MB_HTTP_H
#define MB_HTTP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define HTTP_RESPONSE_MAX ((size_t)4 << 20)

struct http_opts {
	const char *base_url;    /* e.g. https://api.meisa.io/api/v1 */
	const char *api_key;     /* copied into the header; caller may wipe */
	int insecure;            /* skip TLS verification (--insecure) */
	long connect_timeout_ms; /* 0: 10 s */
	long timeout_ms;         /* 0: 60 s */
	size_t max_connections;  /* pool size; 0: 4 */
	volatile sig_atomic_t *stop; /* set by a signal handler; may be NULL */
};

#define HTTP_OPTS_INIT { NULL, NULL, 0, 0, 0, 0, NULL }

struct http_request {
	char method[8];          /* "GET" or "POST" */
	char *path;              /* relative to base_url, e.g. "/ping/" */
	struct buf body;         /* request body (POST) */
	void *tag;               /* caller's, untouched */
	int64_t tag_id;          /* caller's, untouched */
	/* For the trace (trace.h): what the request is about, set by the
	 * caller; how often and when it went, set by meisa. */
	const char *about;       /* "contact", "chunk" or NULL; static text */
	int64_t about_id;        /* its staging id */
	unsigned attempt;        /* times submitted so far */
	int64_t sent_wall_ms;    /* when last submitted (wall clock) */
	int64_t sent_mono_ms;    /* the same on CLOCK_MONOTONIC */
	/* results, valid once done */
	long status;             /* HTTP status; 0 on a transport failure */
	struct buf response;     /* body, capped at HTTP_RESPONSE_MAX */
	int64_t retry_after_ms;  /* from Retry-After; -1 when absent */
	int curl_code;           /* CURLcode; 0 on success */
	char errbuf[256];        /* libcurl's error text */
	char content_type[64];   /* the answer's Content-Type ("" if none;
				    shortened) */
	char location[512];      /* a 3xx's Location, resolved; "" if none */
	double total_time_s;
	unsigned sends;          /* times it went out: 0 (no connection), 1,
				    or more when libcurl re-sent it */
	int64_t wire_ms;         /* CLOCK_MONOTONIC ms when it first went
				    out (clock.h); 0 when it did not */
	/* private */
	void *easy;              /* CURL * while in flight */
	int state;               /* new/collected, in flight, done */
	int too_big;             /* the body passed HTTP_RESPONSE_MAX */
	struct http_request *next, *prev;
};

struct http {
	void *multi;             /* CURLM * */
	void *headers;           /* struct curl_slist * */
	char *base_url;
	struct http_opts opts;
	void **idle;             /* idle easy handles */
	size_t nidle, idle_cap;
	size_t in_flight;
	struct http_request *done_head, *done_tail;
	struct http_request *flying; /* in flight, for http_close */
	struct buf url;          /* scratch for base_url + path */
	int pipewait;            /* https: wait to multiplex over HTTP/2 */
};

#define HTTP_INIT { NULL, NULL, NULL, HTTP_OPTS_INIT, NULL, 0, 0, 0, NULL, \
		    NULL, NULL, BUF_INIT, 0 }

/*
 * Set h up (h as from HTTP_INIT).  MB_EUSAGE for a base_url that is not
 * http:// or https://, MB_EAUTH for a missing key or one with control
 * characters (the message never quotes it), MB_EINTERNAL when libcurl
 * cannot be set up.  On failure h is left as from HTTP_INIT.
 */
enum mb_rc http_open(struct http *h, const struct http_opts *opts,
		     struct err *e);

/* Abort and free everything h holds (see Ownership); h ends as HTTP_INIT. */
void http_close(struct http *h);

/*
 * New request (heap); body may be NULL.  method is "GET" or "POST" (other
 * upper-case methods are sent as custom requests).  Freed with
 * http_request_free, which must not be given a request h holds.
 */
struct http_request *http_request_new(const char *method, const char *path,
				      const char *body, size_t body_len,
				      void *tag);
void http_request_free(struct http_request *req);

/*
 * Start req; h borrows it until it comes back from http_next_done.  The
 * results (status, response, retry_after_ms, curl_code, errbuf,
 * total_time_s, sends) are reset, so a finished request can be submitted
 * again as a retry: callers need not clear them.  MB_EINTERNAL
 * when req is already held by h or libcurl refuses it.  Requests beyond
 * max_connections queue inside libcurl, and their total timeout runs while
 * they queue: submit about as many as max_connections.
 */
enum mb_rc http_submit(struct http *h, struct http_request *req,
		       struct err *e);

/*
 * Run transfers for at most timeout_ms, returning early when one finishes
 * (at once when finished ones are waiting to be collected), and when
 * *opts.stop goes from 0 to non-zero during the wait: the signal that sets
 * it interrupts the poll, so a stop is seen at once.  Other signals usually
 * end the wait early too.  With nothing in flight it just sleeps: the rate
 * limiter's wait can be given as timeout_ms.  Callers loop; an early return
 * is never an error.  MB_EINTERNAL (with curl_multi_strerror) if libcurl
 * fails.
 */
enum mb_rc http_wait(struct http *h, int timeout_ms, struct err *e);

/* A finished request handed back to the caller, or NULL (FIFO order). */
struct http_request *http_next_done(struct http *h);

size_t http_in_flight(const struct http *h);

/*
 * Blocking one-shot: submit and wait for it (ping, lists, small calls).
 * Other requests in flight keep running and, when they finish, stay queued
 * for http_next_done.  MB_OK once req finished, whatever its outcome: look
 * at req->status (0: a transport failure, see curl_code and errbuf).
 */
enum mb_rc http_do(struct http *h, struct http_request *req, struct err *e);

/*
 * Parse a Retry-After value (delta-seconds or an HTTP date: IMF-fixdate,
 * RFC 850 or asctime, relative to now_s) into milliseconds; -1 when it is
 * not valid (empty, negative, garbage).  A date in the past gives 0; values
 * over a day are capped at HTTP_RETRY_AFTER_MAX_S.
 */
#define HTTP_RETRY_AFTER_MAX_S (24 * 60 * 60)
int64_t http_parse_retry_after(const char *value, int64_t now_s);

/* The version of the libcurl in use and its TLS library (for --version). */
const char *http_curl_version(void);

/*
 * url as it may be shown (messages, ping): without a "user:password@" part,
 * which may hold a proxy's or a gateway's password.  Caller frees.
 */
char *http_url_shown(const char *url);

#endif
