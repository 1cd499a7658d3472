/*
 * push: from a staging file to Meisa: pre-flight, upserts, enrollments.
 *
 *   push_open      transport, limiter, send times of the last hour
 *   push_preflight ping (key, environment, scopes), the sequence check,
 *                  Meisa's unsubscribed list into the staging file, the plan,
 *                  the input and shrink guards (guard.h: MB_EDATA)
 *   push_run       the upserts, then the enrollment chunks
 *   push_close
 *
 * Every request is counted in the staging file before it goes out: send
 * slots are reserved (rows in sends, counted in requests) in a commit of
 * their own, PUSH_RESERVE at a time, valid for PUSH_RESERVE_MS and stamped
 * with the end of that validity; a send replaces its slot's row with its
 * real time, and a clean end releases the slots not used.  After a SIGKILL
 * the leftover slots count as sends, so the hour window and requests never
 * undercount what Meisa saw (they may overcount by one reservation).
 *
 * The staging file is the outbox.  Each answer that settles a contact
 * (2xx: upserted; 400/404/422 and the 4xx not retried: failed) is committed
 * in batches (every PUSH_BATCH answers or PUSH_BATCH_MS, whichever first),
 * so a crash re-sends at most the requests in flight plus one batch: upsert
 * is idempotent, so a re-send is safe.  Answers are judged by
 * meisa_classify: 429, 408, 425 and 5xx/transport errors are retried;
 * 401/403 stop the run (MB_EAUTH); 3xx and TLS failures stop it with
 * MB_EUNAVAILABLE; giving up (giveup.h) stops it with MB_EUNAVAILABLE,
 * naming the last error, progress kept.
 *
 * Enrollment chunks (at most 500 addresses) are rows: their membership is
 * committed before the chunk is sent; a chunk whose answer was lost is sent
 * again on the next run (Meisa skips already-enrolled addresses).  Contacts
 * suppressed at the source are never upserted; contacts on Meisa's
 * unsubscribed list are upserted but never enrolled; override_unsubscribe is
 * never sent.
 *
 * Nightly sync (db.h, stage.h): push works on the latest generation only.
 * Its contacts whose body Meisa acknowledged already (staging left them
 * upserted) are not sent; contacts of earlier generations missing from the
 * latest one are neither sent nor enrolled.  An acknowledgement records the
 * hash of the body sent (acked_hash), the generation (acked_gen) and the
 * custom field keys Meisa now holds (acked_fields).  push_run marks the
 * generation pushed, so the next staged file opens a new one.  opts.full
 * sends every contact of the generation again (not the skipped ones); an
 * interrupted --full push resumes where it stopped when run with --full
 * again (the generation remembers when the full pass began), and starts
 * over once a full pass has finished.
 *
 * Consent by default (store_outbox.h): unconfirmed contacts Meisa does not
 * hold yet are skipped, neither upserted nor enrolled, unless
 * opts.include_unconfirmed; the decision is taken at each run's start.
 *
 * Contacts that failed (a 4xx other than 401/403/429) stay failed: a run
 * does not send them again unless opts.retry_failed, which puts the failed
 * contacts of the generation back to pending before the first write (so
 * an interrupted retry resumes like any push, with or without the flag).
 */
#ifndef MB_PUSH_H
#define MB_PUSH_H

#include <stdint.h>

#include "db.h"
#include "err.h"
#include "guard.h"
#include "meisa.h"
#include "store_sends.h"

#define PUSH_BATCH 64
#define PUSH_BATCH_MS 250
#define PUSH_CHUNK_MAX 500
#define PUSH_RESERVE 32
#define PUSH_RESERVE_MS 2000

struct push_progress {
	const char *phase;       /* "upsert" or "enroll" */
	int64_t done, total, failed;
	uint64_t requests, retries, throttled;
	int64_t elapsed_ms;
	int64_t eta_ms;          /* time left at --rate; -1: no windows */
	int64_t wait_ms;         /* the limiter holds sends back this long */
	char wait_why[48];       /* ... for this ("the 1000/h window") */
};

struct push_opts {
	struct meisa_opts api;
	const char *sequence;    /* NULL: no enrollment */
	uint64_t max_requests;   /* 0: no limit */
	int full;                /* send unchanged contacts too (--full) */
	int retry_failed;        /* send failed contacts again
				    (--retry-failed) */
	int include_unconfirmed; /* create unconfirmed contacts too
				    (--include-unconfirmed) */
	int64_t drain_ms;        /* bounded wait for answers on stop; 0: 10 s */
	struct guard_opts guard; /* checked in the pre-flight (guard.h) */
	void (*progress)(void *ctx, const struct push_progress *p);
	void *ctx;
};

struct push_plan {
	char environment[16];
	struct buf scopes;
	int64_t to_upsert, skipped, suppressed, meisa_unsubscribed;
	int64_t unchanged;       /* acknowledged already: not sent */
	int64_t failed;          /* failed in a run before (and not sent again
				    by --full): in to_upsert with retry_failed,
				    else not sent */
	int64_t unconfirmed;     /* never acknowledged, unconfirmed: in
				    to_upsert with include_unconfirmed,
				    else in skipped */
	int64_t generation;
	int64_t to_enroll, chunks, requests, estimate_ms;
	struct buf as_of;
};

struct push_result {
	int64_t upserted, failed, enrolled, chunks, enroll_failed;
	int64_t enroll_unknown;  /* of the generation: status.h */
	uint64_t requests, retries, throttled;
	int64_t elapsed_ms;
};

struct push {
	struct db *db;
	struct push_opts opts;
	struct meisa *api;      /* owned (meisa_open in push_open) */
	struct store_sends send_times;   /* the staging file's */
	int64_t *sends;          /* send times not yet written */
	size_t nsends, sends_cap;
	size_t covered;          /* of those, sends that used a reserved slot */
	size_t reserved;         /* slots reserved and not yet used */
	int64_t reserve_stamp;   /* t_ms of this run's reserved rows */
	int64_t reserve_until;   /* monotonic: the slots expire then */
	uint64_t stop_after;     /* max_requests reached */
	int64_t started_ms;
	int64_t gen;             /* the latest generation (0: none) */
	int64_t chunked_to;      /* contacts up to this id are in chunks, or
				    not enrollable (this run's cursor) */
};

enum mb_rc push_open(struct push *p, struct db *db,
		     const struct push_opts *opts, struct err *e);
void push_close(struct push *p);

void push_plan_init(struct push_plan *plan);
void push_plan_release(struct push_plan *plan);

/* Everything before the first write; plan is filled on success. */
enum mb_rc push_preflight(struct push *p, struct push_plan *plan,
			  struct err *e);

/*
 * The writes.  MB_OK when every contact reached a final state, MB_EFAILED
 * when some failed permanently or bulk-enroll gave an address an unknown
 * status or none (res->enroll_unknown), MB_ESTOPPED after a signal or
 * --max-requests, MB_EAUTH, MB_EUNAVAILABLE.  res is filled in every case.
 */
enum mb_rc push_run(struct push *p, struct push_result *res, struct err *e);

#endif
