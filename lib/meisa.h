/*
 * meisa: the Meisa API as meisa-bulk uses it, on top of http and ratelimit.
 *
 * struct meisa owns the transport, the limiter and the retry policy for the
 * one-shot calls of a run (ping, the sequence list, the unsubscribed list,
 * enrollment chunks): every request waits for the limiter, a 429 waits for
 * Retry-After (or the window) and is never a failure, 5xx and transport
 * errors are retried with exponential backoff and jitter, and when nothing
 * gets through for give_up_ms the call fails with MB_EUNAVAILABLE.  Answers
 * are read with SQLite's JSON functions on a connection the caller lends.
 *
 * Every request sent is counted and reported through on_send, so the caller
 * can persist send times (the hour window survives restarts).
 */
#ifndef MB_MEISA_H
#define MB_MEISA_H

#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "ratelimit.h"

#define MEISA_DEFAULT_BASE_URL "https://api.meisa.io/api/v1"

struct meisa_opts {
	const char *base_url;
	const char *api_key;
	int insecure;
	const char *rate;        /* --rate spec */
	size_t concurrency;
	int64_t give_up_ms;      /* 0: 5 minutes */
	int64_t backoff_base_ms; /* 0: 500 ms */
	int64_t backoff_cap_ms;  /* 0: 30 s */
	volatile sig_atomic_t *stop;  /* set by a signal handler; may be NULL */
	void (*on_send)(void *ctx, int64_t t_ms);
	void *ctx;
};

#define MEISA_OPTS_INIT { NULL, NULL, 0, NULL, 4, 0, 0, 0, NULL, NULL, NULL }

struct meisa {
	struct meisa_opts opts;
	struct http http;
	struct ratelimit rl;
	sqlite3 *json;           /* borrowed, for reading answers */
	uint64_t requests;       /* sent by this process */
	uint64_t retries;        /* re-sends after 5xx/transport errors */
	uint64_t throttled;      /* 429 answers */
	uint64_t rng;
};

struct meisa_key_info {
	char environment[16];    /* "live", "test" or "unknown" */
	struct buf scopes;       /* comma-separated, as Meisa listed them */
};

enum mb_rc meisa_open(struct meisa *m, const struct meisa_opts *opts,
		      sqlite3 *json, struct err *e);
void meisa_close(struct meisa *m);

int meisa_stopping(const struct meisa *m);

/* Wait (polling the stop flag) until the limiter lets a request go. */
enum mb_rc meisa_pace(struct meisa *m, struct err *e);

/* Record a send with the limiter and the caller. */
void meisa_sent(struct meisa *m);

/* Record the re-sends libcurl made of req by itself (req->sends beyond the
 * first, see http.h) as sends: Meisa counts them against the limits too. */
void meisa_resent(struct meisa *m, const struct http_request *req);

/*
 * Send req and retry as described above until it gets a final answer
 * (2xx, or a 4xx other than 429).  401/403 -> MB_EAUTH (message quotes
 * Meisa's answer); otherwise MB_OK and req->status says what came back.
 */
enum mb_rc meisa_call(struct meisa *m, struct http_request *req,
		      struct err *e);

/*
 * GET /ping/: environment and scopes.  info->scopes must be initialised.
 * A 2xx that is not a JSON object (a portal page, a wrong base URL) is
 * MB_EPROTO naming the content type and the start of the body.
 */
enum mb_rc meisa_ping(struct meisa *m, struct meisa_key_info *info,
		      struct err *e);

/* 1 when the comma-separated scope list holds scope. */
int meisa_has_scope(const struct meisa_key_info *info, const char *scope);

/*
 * The sequence list (status=all, optional search) as a JSON array of
 * {slug, name, status} objects, whatever shape Meisa answered.
 */
enum mb_rc meisa_sequences(struct meisa *m, const char *search,
			   struct buf *out, struct err *e);

/*
 * GET the unsubscribed list into out as {as_of, count, emails}: from the
 * documented object (count, when present, must equal the length of emails)
 * or a bare array of addresses (as_of null).  Any other answer (not JSON,
 * emails missing or not an array, an entry that is not a string) is
 * MB_EPROTO with what was received, shortened, in e.
 */
enum mb_rc meisa_unsubscribed(struct meisa *m, struct buf *out,
			      struct err *e);

/* "Meisa answered 422: <body, shortened>" into e with rc. */
enum mb_rc meisa_answer_error(const struct http_request *req, enum mb_rc rc,
			      const char *what, struct err *e);

/* A copy of the answer's text for storing (shortened, one line). */
void meisa_answer_text(const struct http_request *req, char *out,
		       size_t size);

#endif
