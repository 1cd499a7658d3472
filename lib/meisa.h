/*
 * meisa: the Meisa API as meisa-bulk uses it, on top of http and ratelimit.
 *
 * struct meisa owns the transport, the limiter and the retry policy of a
 * run: meisa_call applies it to the one-shot calls (ping, the sequence
 * list, the unsubscribed list, enrollment chunks), and push's parallel
 * upsert loop applies the same pieces (meisa_classify, meisa_final,
 * meisa_failed, meisa_throttled, meisa_tick).  Every request waits for the
 * limiter; meisa_classify decides what an answer means (see there); a 429
 * waits for Retry-After (or the window); 408, 425, 5xx and transport errors
 * are retried with exponential backoff and jitter; and the give-up rule of
 * giveup.h, one struct giveup for the whole run, ends a run that gets
 * nothing but errors with MB_EUNAVAILABLE naming the last error.  Times are
 * CLOCK_MONOTONIC (clock.h).  Answers are read with SQLite's JSON functions
 * on a private in-memory connection meisa_open opens and meisa_close
 * closes; meisa never touches a caller's SQLite handle.
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
#include "giveup.h"
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
	/* Bumped by a SIGCONT handler (may be NULL): time stopped never
	 * counts toward giving up. */
	volatile sig_atomic_t *resumed;
	/* Before a request of meisa_call goes out (may be NULL): a failure
	 * stops the call with its rc.  Then on_send once it is on its way. */
	enum mb_rc (*before_send)(void *ctx, struct err *e);
	void (*on_send)(void *ctx, int64_t t_ms);   /* t_ms: wall clock */
	void *ctx;
	/* A one-shot call must wait wait_ms (>= 1 s) before it may send, for
	 * why ("the 1000/h window"); called once per wait.  May be NULL. */
	void (*on_wait)(void *ctx, int64_t wait_ms, const char *why);
	void *wait_ctx;
	/* --trace FILE (NULL: none), with the bodies (--trace-bodies): a
	 * line per send of every request (trace.h); meisa_open opens it. */
	const char *trace_path;
	int trace_bodies;
	/* Every answered request (may be NULL), for -v's line per request;
	 * a trouble that does not stop the run (the trace stopped: write
	 * failed), once.  Both get report_ctx. */
	void (*on_answer)(void *ctx, const struct http_request *req);
	void (*on_warning)(void *ctx, const char *msg);
	void *report_ctx;
};

#define MEISA_OPTS_INIT { NULL, NULL, 0, NULL, 4, 0, 0, 0, NULL, NULL, \
			  NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, \
			  NULL }

/* What an answer means for the run: one decision for every call. */
enum meisa_verdict {
	MEISA_DONE,              /* 2xx */
	MEISA_REFUSED,           /* other 4xx: final, about this request */
	MEISA_AUTH,              /* 401, 403: stop (MB_EAUTH) */
	MEISA_THROTTLED,         /* 429: wait as asked, send again */
	MEISA_RETRY,             /* 408, 425, 5xx, transport: back off */
	MEISA_REDIRECT,          /* 3xx: stop, never followed (MB_EUNAVAILABLE) */
	MEISA_TLS,               /* certificate not verified: stop, no retry */
};

/* A run's connection to Meisa; opaque: meisa.c alone knows its members. */
struct meisa;

struct meisa_key_info {
	char environment[16];    /* "live", "test" or "unknown" */
	struct buf scopes;       /* comma-separated, as Meisa listed them */
};

/*
 * A new struct meisa for a run with opts (copied; the strings and pointers
 * in it are borrowed for its life) into *out.  MB_EAUTH without a key,
 * MB_EUSAGE for a bad rate, MB_EIO when the trace cannot be opened,
 * MB_EINTERNAL when SQLite cannot open the
 * connection that reads answers.  *out is set whatever it returns, and
 * meisa_close must free it.
 */
MB_MUST_USE enum mb_rc meisa_open(struct meisa **out,
				  const struct meisa_opts *opts,
				  struct err *e);
/* Close the transport and the connection, free m; NULL-safe. */
void meisa_close(struct meisa *m);

/* The API base URL in use (the default when opts gave none); borrowed. */
const char *meisa_base_url(const struct meisa *m);

int meisa_stopping(const struct meisa *m);

/*
 * Wait (polling the stop flag, ticking the give-up rule) until the limiter
 * lets a request go; a wait of a second or more is announced via on_wait.
 */
enum mb_rc meisa_pace(struct meisa *m, struct err *e);

/* Record a send with the limiter and the caller. */
void meisa_sent(struct meisa *m);

/* Record the re-sends libcurl made of req by itself (req->sends beyond the
 * first, see http.h) as sends: Meisa counts them against the limits too. */
void meisa_resent(struct meisa *m, const struct http_request *req);

/* The verdict on a finished request (see enum meisa_verdict). */
enum meisa_verdict meisa_classify(const struct http_request *req);

/* The error for a verdict that stops the run: MEISA_AUTH -> MB_EAUTH,
 * MEISA_REDIRECT and MEISA_TLS -> MB_EUNAVAILABLE. */
enum mb_rc meisa_stop_error(const struct http_request *req,
			    enum meisa_verdict verdict, struct err *e);

/* A final answer (MEISA_DONE, MEISA_REFUSED): the failure streak ends. */
void meisa_final(struct meisa *m);

/* A MEISA_RETRY answer: counted as a retry, named as the last error. */
void meisa_failed(struct meisa *m, const struct http_request *req);

/* The delay before retry number attempt (backoff.h, the run's knobs). */
int64_t meisa_backoff_ms(struct meisa *m, unsigned attempt);

/*
 * A 429: counted, the limiter paused as asked, and the give-up rule told;
 * MB_EUNAVAILABLE (message in e) when the wait asked for is longer than
 * the give-up time left and the own windows do not explain it.
 */
enum mb_rc meisa_throttled(struct meisa *m, const struct http_request *req,
			   struct err *e);

/*
 * Let the give-up rule see time pass (call at least every few hundred ms
 * while failing); MB_EUNAVAILABLE with giveup_error's message once failing
 * time passes give_up_ms.
 */
enum mb_rc meisa_tick(struct meisa *m, struct err *e);

/*
 * How long the limiter holds the next send back from now_ms (0: it may
 * go), and why, into why ("the 1000/h window", "Meisa's Retry-After").
 */
int64_t meisa_waiting(const struct meisa *m, int64_t now_ms, char *why,
		      size_t size);

/*
 * Send req and retry as described above until it gets a final answer
 * (2xx, or a 4xx other than 408/425/429).  401/403 -> MB_EAUTH (message
 * quotes Meisa's answer); 3xx, TLS failures and giving up ->
 * MB_EUNAVAILABLE; otherwise MB_OK and req->status says what came back.
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

/* One sequence of a list; a member Meisa did not send is "". */
struct meisa_sequence {
	char *slug;
	char *name;
	char *status;
};

/* The sequences meisa_sequence_list read; the list owns every string. */
struct meisa_sequence_list {
	struct meisa_sequence *items;
	size_t count;
};

#define MEISA_SEQUENCE_LIST_INIT { NULL, 0 }

/*
 * The array meisa_sequences wrote (json, borrowed) as structs into list,
 * replacing what it held: for a caller that prints them.  MB_EINTERNAL
 * when SQLite fails reading it.
 */
MB_MUST_USE enum mb_rc meisa_sequence_list(struct meisa *m, const char *json,
					   struct meisa_sequence_list *list,
					   struct err *e);

/* Free what list holds and leave it empty; safe on the _INIT value. */
void meisa_sequence_list_release(struct meisa_sequence_list *list);

/* A list of strings; it owns them. */
struct meisa_strings {
	char **items;
	size_t count;
};

#define MEISA_STRINGS_INIT { NULL, 0 }

/*
 * The addresses of an object meisa_unsubscribed wrote (json, borrowed),
 * sorted, into out, replacing what it held.  MB_EINTERNAL when SQLite
 * fails reading it.
 */
MB_MUST_USE enum mb_rc meisa_unsubscribed_emails(struct meisa *m,
						 const char *json,
						 struct meisa_strings *out,
						 struct err *e);

/* Free what list holds and leave it empty; safe on the _INIT value. */
void meisa_strings_release(struct meisa_strings *list);

/*
 * The parallel path, for push's upsert loop: meisa owns the transport and
 * the limiter, push decides what to send and when.
 */

/*
 * Count req as sent (meisa_sent: limiter, counters, on_send) and hand it
 * to the transport.  req is taken on MB_OK and comes back, answered, from
 * meisa_next_done; on an error it stays the caller's to free.
 */
MB_MUST_USE enum mb_rc meisa_submit(struct meisa *m, struct http_request *req,
				    struct err *e);

/* Run the transfers for up to timeout_ms, or until one finishes. */
MB_MUST_USE enum mb_rc meisa_wait(struct meisa *m, int timeout_ms,
				  struct err *e);

/* A finished request (the caller's to free), or NULL when none is. */
struct http_request *meisa_next_done(struct meisa *m);

/* Requests submitted and not yet returned by meisa_next_done. */
size_t meisa_in_flight(const struct meisa *m);

/* What this process sent, re-sent and was throttled on so far. */
struct meisa_counters {
	uint64_t requests, retries, throttled;
};

void meisa_counters(const struct meisa *m, struct meisa_counters *c);
uint64_t meisa_requests(const struct meisa *m);

/* How long the limiter holds the next send back from now_ms (0: go). */
int64_t meisa_limit_wait_ms(const struct meisa *m, int64_t now_ms);

/* 1 when --rate set windows (0: "none", no time estimate possible). */
int meisa_limited(const struct meisa *m);

/* How long n more sends take from now_ms under the windows (ratelimit.h). */
int64_t meisa_estimate_ms(const struct meisa *m, uint64_t n, int64_t now_ms);

/* How far back stored send times matter (ratelimit_horizon_ms; 0: none). */
int64_t meisa_horizon_ms(const struct meisa *m);

/*
 * A send of an earlier run at t_ms (monotonic), replayed into the limiter
 * so its windows know it; not counted as a request of this process.
 */
void meisa_replay_send(struct meisa *m, int64_t t_ms);

/*
 * The status of sequence slug in list (a meisa_sequences array) into
 * status, replacing it ("active" when Meisa gave none); status is left
 * empty when the list has no such slug.  Arguments borrowed.
 */
MB_MUST_USE enum mb_rc meisa_sequence_status(struct meisa *m,
					     const struct buf *list,
					     const char *slug,
					     struct buf *status,
					     struct err *e);

#endif
