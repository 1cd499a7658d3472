/*
 * sandbox: meisa-sandbox, a local Meisa API server on libmicrohttpd.
 *
 * It serves shared/meisa-api.md under http://127.0.0.1:PORT/api/v1 (see
 * sandbox_api.h for the endpoints), keeps its state and a log of every
 * request in SQLite (sandbox_store.h), and injects the trouble a real
 * network and a real API give: per-key rate limits with 429 and
 * Retry-After, 429 storms, random 5xx, connections dropped before or after
 * the write is applied, and latency.
 *
 * Order of checks on a request (as Django REST Framework does it):
 *   body over 1 MiB -> 413; fault draw (fail -> 5xx, drop -> close);
 *   unknown path -> 404; key missing/unknown -> 401; scope -> 403;
 *   storm or rate -> 429; method -> 405; content type -> 415;
 *   body -> 400; the endpoint; lost_ack -> close without the answer;
 *   latency delays whatever answer there is.
 * Only requests that get past the rate check count toward the key's
 * windows.  Every request is logged (fault draws included), except those to
 * the admin path /api/v1/_sandbox/, which has no key and no faults:
 *   GET /api/v1/_sandbox/flush   commits now; answers {"status":"flushed"}
 *
 * Durability: requests run inside one long transaction that a background
 * thread commits every commit_ms (20 ms by default), so an answered request
 * is visible to other readers of the file within about commit_ms, and at
 * once after /_sandbox/flush.  sandbox_close() commits everything.
 *
 * Threads: libmicrohttpd's epoll loop in `threads` worker threads (one by
 * default); all database work (and the rate logs and the fault generator)
 * under one mutex; a committer thread; a delayer thread when latency_ms > 0,
 * which resumes suspended connections when their time comes (a delay never
 * holds a worker).
 *
 *   struct sandbox_config cfg = SANDBOX_CONFIG_INIT;
 *   struct sandbox *sb;
 *   cfg.db_path = "state.db";  ...
 *   rc = sandbox_open(&sb, &cfg, &e);
 *   ... sandbox_port(sb) ...; wait for a signal, checking sandbox_check();
 *   rc = sandbox_close(sb, &e);
 */
#ifndef MB_SANDBOX_H
#define MB_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SANDBOX_MAX_BODY ((size_t)1 << 20)
#define SANDBOX_DEFAULT_KEY "meisa_test_sandbox"

/*
 * What to serve and which faults to inject.  Strings and arrays are
 * borrowed for the duration of sandbox_open() only.  Spec strings are
 * validated there, each error naming its option.
 */
struct sandbox_config {
	const char *db_path;         /* NULL: in memory */
	unsigned port;               /* 0: any free port */
	const char *const *keys;     /* --key KEY[=scope,...]; none: default */
	size_t nkeys;
	const char *const *sequences;  /* --sequence SLUG[=active|paused] */
	size_t nsequences;
	const char *const *unsubscribed_files;  /* one address a line */
	size_t nunsubscribed_files;
	const char *const *triggers;   /* known /emails/trigger/ keys */
	size_t ntriggers;
	const char *const *fault_paths;  /* prefixes; none: every path */
	size_t nfault_paths;
	const char *rate;            /* NULL: SANDBOX_RATE_DEFAULT */
	const char *rate_storm;      /* "START_S:DURATION_S" or NULL */
	int no_retry_after;          /* 429 without Retry-After */
	long latency_ms;
	double fail_rate, drop_rate, lost_ack_rate;
	uint64_t seed;
	int seed_set;                /* else a random seed (sandbox_seed) */
	unsigned threads;            /* 0: 1 */
	long commit_ms;              /* 0: 20 */
	int verbose;                 /* libmicrohttpd's own error log */
};

#define SANDBOX_CONFIG_INIT { NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, \
	NULL, 0, NULL, NULL, 0, 0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0 }

struct sandbox;

/*
 * Validate cfg, open the store, load sequences, unsubscribed addresses and
 * triggers, bind 127.0.0.1:port and start serving.  On success *out is a
 * running server; on failure nothing is left running.  MB_EUSAGE for a bad
 * option, MB_ENOINPUT for an unreadable --unsubscribed file, MB_EDB for the
 * database, MB_EIO when the port cannot be bound or the server not started.
 */
enum mb_rc sandbox_open(struct sandbox **out, const struct sandbox_config *cfg,
			struct err *e);

/* The port listened on (the chosen one when cfg.port was 0). */
unsigned sandbox_port(const struct sandbox *sb);

/* The fault generator's seed (the random one when none was given). */
uint64_t sandbox_seed(const struct sandbox *sb);

/*
 * MB_OK while the server is healthy; else the first background failure
 * (a commit that failed: the state on disk is no longer trustworthy).
 */
enum mb_rc sandbox_check(struct sandbox *sb, struct err *e);

/*
 * Stop serving (connections in flight are closed), commit and close the
 * store, free everything.  Returns the final commit's result, or the first
 * background failure.  NULL-safe.
 */
enum mb_rc sandbox_close(struct sandbox *sb, struct err *e);

#endif
