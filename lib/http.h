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
 * A transfer that failed below HTTP (refused, reset, timeout) finishes with
 * status 0, curl_code set and errbuf holding libcurl's text.
 */
#ifndef MB_HTTP_H
#define MB_HTTP_H

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
};

#define HTTP_OPTS_INIT { NULL, NULL, 0, 0, 0, 0 }

struct http_request {
	char method[8];          /* "GET" or "POST" */
	char *path;              /* relative to base_url, e.g. "/ping/" */
	struct buf body;         /* request body (POST) */
	void *tag;               /* caller's, untouched */
	int64_t tag_id;          /* caller's, untouched */
	/* results, valid once done */
	long status;             /* HTTP status; 0 on a transport failure */
	struct buf response;     /* body, capped at HTTP_RESPONSE_MAX */
	int64_t retry_after_ms;  /* from Retry-After; -1 when absent */
	int curl_code;           /* CURLcode; 0 on success */
	char errbuf[256];        /* libcurl's error text */
	double total_time_s;
	/* private */
	void *easy;
	struct http_request *next;
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
};

#define HTTP_INIT { NULL, NULL, NULL, HTTP_OPTS_INIT, NULL, 0, 0, 0, NULL, NULL }

enum mb_rc http_open(struct http *h, const struct http_opts *opts,
		     struct err *e);
void http_close(struct http *h);

/* New request (heap); body may be NULL.  Freed with http_request_free. */
struct http_request *http_request_new(const char *method, const char *path,
				      const char *body, size_t body_len,
				      void *tag);
void http_request_free(struct http_request *req);

/* Start req; h borrows it until it comes back from http_next_done. */
enum mb_rc http_submit(struct http *h, struct http_request *req,
		       struct err *e);

/* Run transfers for at most timeout_ms, returning early when one finishes. */
enum mb_rc http_wait(struct http *h, int timeout_ms, struct err *e);

/* A finished request handed back to the caller, or NULL. */
struct http_request *http_next_done(struct http *h);

size_t http_in_flight(const struct http *h);

/* Blocking one-shot: submit and wait for it (ping, lists, small calls). */
enum mb_rc http_do(struct http *h, struct http_request *req, struct err *e);

/*
 * Parse a Retry-After value (delta-seconds or an HTTP date, relative to
 * now_s) into milliseconds; -1 when it is not valid.
 */
int64_t http_parse_retry_after(const char *value, int64_t now_s);

/* The version text of the libcurl in use (for --version). */
const char *http_curl_version(void);

#endif
