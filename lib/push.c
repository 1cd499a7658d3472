/*
 * push: pre-flight, the upsert outbox loop, enrollment chunks.
 *
 * The logic only: what to send next, pacing, when to commit.  The staging
 * file is read and written through the store (store_outbox.h for the
 * contacts, store_chunks.h, store_sends.h, store_unsubscribed.h), Meisa
 * through meisa.h.  Every query is about the latest generation (p->gen):
 * contacts of earlier generations that the latest one lacks are left alone.
 */
#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "store_chunks.h"
#include "store_outbox.h"
#include "store_unsubscribed.h"
#include "xalloc.h"

/* A request waiting to be (re)sent, and when. */
struct retry {
	struct http_request *req;
	int64_t due_ms;
	unsigned attempts;
};

/* State of one upsert phase. */
struct upserts {
	struct store_outbox outbox;
	struct store_contact contact;    /* the last one taken */
	int64_t last_id;
	int exhausted;
	int in_tx;
	unsigned batch;
	int64_t last_commit_ms;
	struct retry *retries;
	size_t nretries;
	struct push_progress progress;
	int64_t last_progress_ms;
	int64_t last_eta_ms;     /* when progress.eta_ms was computed */
	enum mb_rc fatal;        /* MB_EAUTH: stop sending */
	struct err fatal_err;
};

static void on_send(void *ctx, int64_t t_ms)
{
	struct push *p = ctx;

	if (p->nsends == p->sends_cap) {
		p->sends_cap = p->sends_cap ? p->sends_cap * 2 : 256;
		p->sends = xrealloc(p->sends, p->sends_cap * sizeof(int64_t));
	}
	p->sends[p->nsends++] = t_ms;
	/* libcurl's own re-sends find no slot: they are counted at flush. */
	if (p->reserved) {
		p->reserved--;
		p->covered++;
	}
}

/* Delete n of this run's reserved rows and take n off requests (delta). */
static enum mb_rc drop_slots(struct push *p, size_t n, int uncount,
			     struct err *e)
{
	return store_sends_drop(&p->send_times, p->reserve_stamp, n, uncount,
				e);
}

/*
 * Write buffered send times and count the sends no slot covered (inside a
 * tx); the covered ones replace their slot's row.
 */
static enum mb_rc flush_sends(struct push *p, struct err *e)
{
	int64_t horizon = meisa_horizon_ms(p->api);
	enum mb_rc rc;

	if (!p->nsends)
		return MB_OK;
	rc = store_sends_record(&p->send_times, p->sends, p->nsends,
				p->nsends - p->covered, db_now_ms() -
				(horizon ? horizon : 3600000), e);
	if (rc == MB_OK)
		rc = drop_slots(p, p->covered, 0, e);
	if (rc == MB_OK)
		p->nsends = p->covered = 0;
	return rc;
}

/* A reserved slot is left and still valid at now_ms (monotonic). */
static int slot_ready(const struct push *p, int64_t now_ms)
{
	return p->reserved && now_ms < p->reserve_until;
}

/*
 * Make sure a slot is reserved for the next send (no transaction open):
 * when none is left or they expired, release what is left and reserve
 * PUSH_RESERVE more, stamped with the end of their validity (a send using
 * one leaves before that), in one commit before the request leaves.
 */
static enum mb_rc take_slot(struct push *p, int64_t now_ms, struct err *e)
{
	int64_t stamp = clock_wall_ms() + PUSH_RESERVE_MS;
	enum mb_rc rc;

	if (slot_ready(p, now_ms))
		return MB_OK;
	rc = db_begin(p->db, e);
	if (rc == MB_OK)
		rc = flush_sends(p, e);
	if (rc == MB_OK)
		rc = drop_slots(p, p->reserved, 1, e);
	if (rc == MB_OK)
		rc = store_sends_reserve(&p->send_times, stamp, PUSH_RESERVE, e);
	if (rc == MB_OK)
		rc = db_commit(p->db, e);
	if (rc != MB_OK) {
		db_rollback(p->db);
		return rc;
	}
	p->reserved = PUSH_RESERVE;
	p->reserve_stamp = stamp;
	p->reserve_until = now_ms + PUSH_RESERVE_MS;
	return MB_OK;
}

static enum mb_rc before_send(void *ctx, struct err *e)
{
	return take_slot(ctx, clock_mono_ms(), e);
}

/* Outside any transaction: commit the send times on their own, and with
 * release set give back the slots not used (a clean end). */
static enum mb_rc save_sends(struct push *p, int release, struct err *e)
{
	enum mb_rc rc = db_begin(p->db, e);

	if (rc == MB_OK)
		rc = flush_sends(p, e);
	if (rc == MB_OK && release)
		rc = drop_slots(p, p->reserved, 1, e);
	if (rc == MB_OK)
		rc = db_commit(p->db, e);
	if (rc != MB_OK) {
		db_rollback(p->db);
		return rc;
	}
	if (release)
		p->reserved = 0;
	return MB_OK;
}

/* A stored send time, replayed: see load_sends. */
struct replay {
	struct meisa *api;
	int64_t wall, mono;
};

static void replay_send(void *ctx, int64_t t_ms)
{
	struct replay *r = ctx;

	meisa_replay_send(r->api, clock_wall_to_mono(t_ms, r->wall, r->mono));
}

/* Replay the send times of the last hour so the limiter knows them. */
static enum mb_rc load_sends(struct push *p, struct err *e)
{
	int64_t horizon = meisa_horizon_ms(p->api);
	struct replay r;

	if (!horizon)
		return MB_OK;
	/*
	 * Stored times are wall-clock; the limiter runs on the monotonic
	 * clock.  Times "in the future" (the wall clock went back since) count
	 * as sent now rather than stalling the windows for the step.
	 */
	r.api = p->api;
	r.wall = clock_wall_ms();
	r.mono = clock_mono_ms();
	return store_sends_each(&p->send_times, r.wall - horizon, replay_send,
				&r, e);
}

enum mb_rc push_open(struct push *p, struct db *db,
		     const struct push_opts *opts, struct err *e)
{
	struct meisa_opts api = opts->api;
	enum mb_rc rc;

	memset(p, 0, sizeof(*p));
	p->db = db;
	p->opts = *opts;
	p->started_ms = clock_mono_ms();
	api.on_send = on_send;
	api.before_send = before_send;
	api.ctx = p;
	rc = meisa_open(&p->api, &api, e);
	if (rc == MB_OK)
		rc = store_sends_open(&p->send_times, db, e);
	if (rc == MB_OK)
		rc = load_sends(p, e);
	if (rc == MB_OK)
		rc = store_outbox_generation(db, &p->gen, e);
	return rc;
}

void push_close(struct push *p)
{
	struct err ignored = ERR_INIT;

	if (p->db && (p->nsends || p->reserved))
		save_sends(p, 1, &ignored);
	store_sends_close(&p->send_times);
	meisa_close(p->api);
	free(p->sends);
	p->sends = NULL;
}

void push_plan_init(struct push_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	buf_init(&plan->scopes, BUF_MAX_DEFAULT);
	buf_init(&plan->as_of, BUF_MAX_DEFAULT);
}

void push_plan_release(struct push_plan *plan)
{
	buf_release(&plan->scopes);
	buf_release(&plan->as_of);
}

static enum mb_rc check_scopes(struct push *p, struct meisa_key_info *info,
			       struct err *e)
{
	const char *need[] = { "contacts:write", "contacts:read",
			       "sequences:enroll" };
	size_t i, n = p->opts.sequence ? 3 : 2;

	for (i = 0; i < n; i++)
		if (!meisa_has_scope(info, need[i]))
			return err_set(e, MB_EAUTH, "the API key lacks the"
				       " scope %s (it has: %s); create a key"
				       " with it in Meisa's settings", need[i],
				       info->scopes.len ? info->scopes.data :
				       "none");
	return MB_OK;
}

static enum mb_rc check_sequence(struct push *p, struct err *e)
{
	struct buf list = BUF_INIT, status = BUF_INIT;
	enum mb_rc rc;

	rc = meisa_sequences(p->api, p->opts.sequence, &list, e);
	if (rc == MB_OK)
		rc = meisa_sequence_status(p->api, &list, p->opts.sequence,
					   &status, e);
	if (rc == MB_OK && !status.len)
		rc = err_set(e, MB_EUSAGE, "sequence '%s' does not exist"
			     " ('meisa-bulk sequences' lists them)",
			     p->opts.sequence);
	else if (rc == MB_OK && strcmp(status.data, "active") != 0)
		rc = err_set(e, MB_EUSAGE, "sequence '%s' is %s, not"
			     " active: activate it in Meisa first",
			     p->opts.sequence, status.data);
	buf_release(&list);
	buf_release(&status);
	return rc;
}

/* Replace the staging file's copy of Meisa's unsubscribed list. */
static enum mb_rc save_unsubscribed(struct push *p, struct push_plan *plan,
				    struct err *e)
{
	struct buf raw = BUF_INIT;
	enum mb_rc rc;

	rc = meisa_unsubscribed(p->api, &raw, e);
	if (rc == MB_OK)
		rc = db_begin(p->db, e);
	if (rc != MB_OK)
		goto out;
	rc = store_unsubscribed_replace(p->db, raw.data, raw.len,
					&plan->as_of, e);
	if (rc == MB_OK)
		rc = flush_sends(p, e);
	if (rc == MB_OK)
		rc = db_commit(p->db, e);
	else
		db_rollback(p->db);
out:
	buf_release(&raw);
	return rc;
}

/*
 * The plan's counts.  With --full the contacts sent again are counted as
 * to upsert and none as unchanged; with --retry-failed the failed ones too.
 */
static enum mb_rc count_contacts(struct push *p, struct push_plan *plan,
				 struct err *e)
{
	struct store_plan_counts c;
	enum mb_rc rc;

	rc = store_outbox_plan(p->db, p->gen, p->opts.full, &c, e);
	if (rc != MB_OK)
		return rc;
	plan->to_upsert = c.pending + c.full_again;
	plan->unchanged = c.unchanged;
	plan->skipped = c.skipped;
	plan->suppressed = c.suppressed;
	plan->meisa_unsubscribed = c.meisa_unsubscribed;
	plan->failed = c.failed;
	if (p->opts.retry_failed)
		plan->to_upsert += plan->failed;
	return MB_OK;
}

/*
 * What the run's start will decide for the unconfirmed contacts (see
 * begin_run), so that the plan counts them where they will be.
 */
static enum mb_rc count_unconfirmed(struct push *p, struct push_plan *plan,
				    struct err *e)
{
	struct store_unconfirmed u;
	int64_t held;
	enum mb_rc rc;

	rc = store_outbox_unconfirmed(p->db, p->gen, p->opts.full,
				      p->opts.retry_failed, &u, e);
	if (rc != MB_OK)
		return rc;
	held = u.pending + u.failed_full + u.failed_retry;
	plan->unconfirmed = held + u.skipped;
	if (p->opts.include_unconfirmed) {
		plan->to_upsert += u.skipped;
		plan->skipped -= u.skipped;
		if (p->opts.sequence)
			plan->to_enroll += u.skipped_enrollable;
	} else {
		plan->to_upsert -= held;
		plan->skipped += held;
		plan->failed -= u.failed_retry;
		if (p->opts.sequence)
			plan->to_enroll -= u.pending_enrollable;
	}
	return MB_OK;
}

static enum mb_rc count_plan(struct push *p, struct push_plan *plan,
			     struct err *e)
{
	int64_t open_chunks = 0;
	enum mb_rc rc;

	plan->generation = p->gen;
	rc = count_contacts(p, plan, e);
	if (rc == MB_OK && p->opts.sequence)
		rc = store_chunks_count(p->db, &plan->to_enroll, &open_chunks,
					e);
	if (rc == MB_OK)
		rc = count_unconfirmed(p, plan, e);
	if (rc == MB_OK && p->opts.sequence)
		plan->chunks = open_chunks + (plan->to_enroll +
				PUSH_CHUNK_MAX - 1) / PUSH_CHUNK_MAX;
	plan->requests = plan->to_upsert + plan->chunks;
	plan->estimate_ms = meisa_estimate_ms(p->api,
			(uint64_t)plan->requests, clock_mono_ms());
	return rc;
}

enum mb_rc push_preflight(struct push *p, struct push_plan *plan,
			  struct err *e)
{
	struct meisa_key_info info;
	enum mb_rc rc;

	buf_init(&info.scopes, BUF_MAX_DEFAULT);
	rc = meisa_ping(p->api, &info, e);
	if (rc == MB_OK) {
		memcpy(plan->environment, info.environment,
		       sizeof(plan->environment));
		rc = buf_set(&plan->scopes, buf_str(&info.scopes),
			     info.scopes.len);
	}
	if (rc == MB_OK)
		rc = check_scopes(p, &info, e);
	if (rc == MB_OK && p->opts.sequence &&
	    meisa_has_scope(&info, "sequences:read"))
		rc = check_sequence(p, e);
	if (rc == MB_OK)
		rc = save_unsubscribed(p, plan, e);
	if (rc == MB_OK)
		rc = count_plan(p, plan, e);
	if (rc == MB_OK)
		rc = guard_check(p->db, &p->opts.guard, e);
	buf_release(&info.scopes);
	if (p->nsends) {
		struct err ignored = ERR_INIT;

		save_sends(p, 0, &ignored);
	}
	return rc;
}

/* ---- upserts ---------------------------------------------------------- */

static int stop_sending(const struct push *p, const struct upserts *u)
{
	if (meisa_stopping(p->api) || u->fatal != MB_OK)
		return 1;
	return p->opts.max_requests &&
		meisa_requests(p->api) >= p->opts.max_requests;
}

static enum mb_rc commit_batch(struct push *p, struct upserts *u,
			       struct err *e)
{
	enum mb_rc rc = MB_OK;

	if (!u->in_tx) {
		rc = db_begin(p->db, e);
		u->in_tx = rc == MB_OK;
	}
	if (rc == MB_OK)
		rc = flush_sends(p, e);
	if (rc == MB_OK)
		rc = db_commit(p->db, e);
	u->in_tx = 0;
	u->batch = 0;
	u->last_commit_ms = clock_mono_ms();
	return rc;
}

static enum mb_rc ensure_tx(struct push *p, struct upserts *u, struct err *e)
{
	enum mb_rc rc;

	if (u->in_tx)
		return MB_OK;
	rc = db_begin(p->db, e);
	u->in_tx = rc == MB_OK;
	return rc;
}

/*
 * The next contact to upsert, as a request into *req; NULL when none is
 * left.  A contact the store cannot read is an error, not the end.
 */
static enum mb_rc next_contact(struct push *p, struct upserts *u,
			       struct http_request **req, struct err *e)
{
	struct store_contact *c = &u->contact;
	enum mb_rc rc;

	*req = NULL;
	if (u->exhausted)
		return MB_OK;
	rc = store_outbox_next(&u->outbox, u->last_id, p->gen, c, e);
	if (rc != MB_OK)
		return rc;
	if (c->done) {
		u->exhausted = 1;
		return MB_OK;
	}
	u->last_id = c->id;
	*req = http_request_new("POST", "/contacts/upsert/", c->body.data,
				c->body.len, NULL);
	(*req)->tag_id = c->id;
	(*req)->about = "contact";
	(*req)->about_id = c->id;
	return MB_OK;
}

static void add_retry(struct upserts *u, struct http_request *req,
		      int64_t due_ms, unsigned attempts)
{
	u->retries = xrealloc(u->retries, (u->nretries + 1) *
			      sizeof(*u->retries));
	u->retries[u->nretries].req = req;
	u->retries[u->nretries].due_ms = due_ms;
	u->retries[u->nretries].attempts = attempts;
	u->nretries++;
}

/* A retry whose time has come (earliest first), or NULL. */
static struct http_request *due_retry(struct upserts *u, int64_t now,
				      int64_t *next_due)
{
	size_t i, best = u->nretries;
	struct http_request *req;

	for (i = 0; i < u->nretries; i++)
		if (best == u->nretries ||
		    u->retries[i].due_ms < u->retries[best].due_ms)
			best = i;
	if (best == u->nretries)
		return NULL;
	if (u->retries[best].due_ms > now) {
		*next_due = u->retries[best].due_ms;
		return NULL;
	}
	req = u->retries[best].req;
	req->tag = (void *)(uintptr_t)u->retries[best].attempts;
	u->retries[best] = u->retries[--u->nretries];
	return req;
}

static enum mb_rc settle(struct push *p, struct upserts *u,
			 struct http_request *req, int ok, struct err *e)
{
	unsigned attempts = (unsigned)(uintptr_t)req->tag + 1;
	char text[512];
	enum mb_rc rc;

	rc = ensure_tx(p, u, e);
	if (rc != MB_OK)
		return rc;
	if (ok) {
		rc = store_outbox_upserted(&u->outbox, req->tag_id,
					   req->status, attempts,
					   buf_str(&req->response),
					   req->response.len, e);
	} else {
		meisa_answer_text(req, text, sizeof(text));
		rc = store_outbox_failed(&u->outbox, req->tag_id, req->status,
					 attempts, text, e);
	}
	u->batch++;
	u->progress.done++;
	if (!ok)
		u->progress.failed++;
	return rc;
}

/* Giving up loses nothing of what was acknowledged: say so. */
static void progress_kept(struct err *e)
{
	char msg[ERR_MSG_MAX];

	snprintf(msg, sizeof(msg), "%s", e->msg);
	err_set(e, e->rc, "%s; progress is kept, run the same command again"
		" to resume", msg);
}

/* Stop sending with e's error (the first stop wins). */
static void set_fatal(struct upserts *u, enum mb_rc rc, const struct err *e)
{
	if (u->fatal != MB_OK)
		return;
	u->fatal = rc;
	u->fatal_err = *e;
	if (rc == MB_EUNAVAILABLE)
		progress_kept(&u->fatal_err);
}

/* The verdicts of meisa_classify, applied to one upsert's answer. */
static enum mb_rc on_answer(struct push *p, struct upserts *u,
			    struct http_request *req, struct err *e)
{
	unsigned attempts = (unsigned)(uintptr_t)req->tag;
	enum meisa_verdict verdict = meisa_classify(req);
	int64_t now = clock_mono_ms();
	struct err stop = ERR_INIT;
	enum mb_rc rc;

	meisa_resent(p->api, req);
	switch (verdict) {
	case MEISA_DONE:
	case MEISA_REFUSED:
		meisa_final(p->api);
		rc = settle(p, u, req, verdict == MEISA_DONE, e);
		http_request_free(req);
		return rc;
	case MEISA_THROTTLED:
		rc = meisa_throttled(p->api, req, &stop);
		if (rc != MB_OK)
			set_fatal(u, rc, &stop);
		add_retry(u, req, now, attempts);
		return MB_OK;
	case MEISA_RETRY:
		meisa_failed(p->api, req);
		add_retry(u, req, now + meisa_backoff_ms(p->api, attempts),
			  attempts + 1);
		return MB_OK;
	default:
		set_fatal(u, meisa_stop_error(req, verdict, &stop), &stop);
		http_request_free(req);
		return MB_OK;
	}
}

/*
 * The time left, from every window of --rate and the sends recorded
 * (ratelimit_estimate_ms simulates them: recomputed once a second at most);
 * -1 without windows (cmd/ then goes by the rate measured).
 */
static void estimate(struct push *p, struct upserts *u, int64_t now)
{
	struct push_progress *pr = &u->progress;

	if (!meisa_limited(p->api)) {
		pr->eta_ms = -1;
		return;
	}
	if (u->last_eta_ms && now - u->last_eta_ms < 1000)
		return;
	u->last_eta_ms = now;
	pr->eta_ms = pr->total > pr->done ? meisa_estimate_ms(p->api,
			(uint64_t)(pr->total - pr->done), now) : 0;
}

static void report(struct push *p, struct upserts *u, int force)
{
	int64_t now = clock_mono_ms();
	struct push_progress *pr = &u->progress;
	struct meisa_counters c;

	if (!p->opts.progress || (!force && now - u->last_progress_ms < 200))
		return;
	u->last_progress_ms = now;
	meisa_counters(p->api, &c);
	pr->requests = c.requests;
	pr->retries = c.retries;
	pr->throttled = c.throttled;
	pr->elapsed_ms = now - p->started_ms;
	estimate(p, u, now);
	pr->wait_ms = meisa_in_flight(p->api) || force ? 0 :
		meisa_waiting(p->api, now, pr->wait_why,
			      sizeof(pr->wait_why));
	p->opts.progress(p->opts.ctx, pr);
}

/* Send what the limiter and the window allow. */
static enum mb_rc fill(struct push *p, struct upserts *u, size_t window,
		       int64_t *wake_ms, struct err *e)
{
	int64_t now = clock_mono_ms(), next_due = INT64_MAX, wait;
	struct http_request *req;
	enum mb_rc rc;

	while (!stop_sending(p, u) && meisa_in_flight(p->api) < window) {
		wait = meisa_limit_wait_ms(p->api, now);
		if (wait > 0) {
			*wake_ms = wait;
			return MB_OK;
		}
		req = due_retry(u, now, &next_due);
		if (!req && meisa_in_flight(p->api) + u->nretries < window) {
			rc = next_contact(p, u, &req, e);
			if (rc != MB_OK)
				return rc;
		}
		if (!req)
			break;
		/* Counted in the staging file before it leaves. */
		rc = MB_OK;
		if (u->in_tx && !slot_ready(p, now))
			rc = commit_batch(p, u, e);
		if (rc == MB_OK)
			rc = take_slot(p, now, e);
		if (rc != MB_OK) {
			http_request_free(req);
			return rc;
		}
		rc = meisa_submit(p->api, req, e);
		if (rc != MB_OK) {
			http_request_free(req);
			return rc;
		}
	}
	if (next_due != INT64_MAX)
		*wake_ms = next_due - now > 0 ? next_due - now : 0;
	return MB_OK;
}

static int upserts_finished(struct push *p, struct upserts *u)
{
	if (meisa_in_flight(p->api))
		return 0;
	if (stop_sending(p, u))
		return 1;
	return u->exhausted && !u->nretries;
}

static enum mb_rc upsert_loop(struct push *p, struct upserts *u,
			      struct err *e)
{
	size_t window = p->opts.api.concurrency ? p->opts.api.concurrency : 4;
	int64_t drain_until = 0;
	struct err stop = ERR_INIT;
	enum mb_rc rc = MB_OK;

	while (rc == MB_OK && !upserts_finished(p, u)) {
		int64_t wake = PUSH_BATCH_MS, now;
		struct http_request *req;

		rc = fill(p, u, window, &wake, e);
		if (rc != MB_OK)
			break;
		if (wake > PUSH_BATCH_MS)
			wake = PUSH_BATCH_MS;
		rc = meisa_wait(p->api, (int)wake, e);
		while (rc == MB_OK && (req = meisa_next_done(p->api)))
			rc = on_answer(p, u, req, e);
		now = clock_mono_ms();
		if (rc == MB_OK && (u->batch >= PUSH_BATCH ||
		    now - u->last_commit_ms >= PUSH_BATCH_MS))
			rc = commit_batch(p, u, e);
		report(p, u, 0);
		if (rc == MB_OK && meisa_tick(p->api, &stop) != MB_OK)
			set_fatal(u, stop.rc, &stop);
		if (stop_sending(p, u) && !drain_until)
			drain_until = now + (p->opts.drain_ms > 0 ?
					     p->opts.drain_ms : 10000);
		if (drain_until && now > drain_until)
			break;   /* unanswered requests stay pending */
	}
	if (rc == MB_OK)
		rc = commit_batch(p, u, e);
	report(p, u, 1);
	return rc;
}

static enum mb_rc run_upserts(struct push *p, struct push_result *res,
			      struct err *e)
{
	struct upserts u;
	enum mb_rc rc;
	size_t i;

	memset(&u, 0, sizeof(u));
	u.outbox = (struct store_outbox)STORE_OUTBOX_INIT;
	u.contact = (struct store_contact)STORE_CONTACT_INIT;
	u.progress.phase = "upsert";
	u.last_commit_ms = u.last_progress_ms = clock_mono_ms();
	rc = store_outbox_pending(p->db, &u.progress.total, e);
	if (rc == MB_OK)
		rc = store_outbox_open(&u.outbox, p->db, e);
	if (rc == MB_OK)
		rc = upsert_loop(p, &u, e);
	if (u.in_tx)
		db_rollback(p->db);
	for (i = 0; i < u.nretries; i++)
		http_request_free(u.retries[i].req);
	free(u.retries);
	store_outbox_close(&u.outbox);
	store_contact_release(&u.contact);
	res->upserted += u.progress.done - u.progress.failed;
	res->failed += u.progress.failed;
	if (rc == MB_OK && u.fatal != MB_OK) {
		*e = u.fatal_err;
		rc = u.fatal;
	}
	return rc;
}

/* ---- enrollment ------------------------------------------------------- */

/*
 * The oldest chunk built or sent but not acknowledged, else a new one: its
 * membership is committed here, before anything is sent.  *id = 0: none.
 */
static enum mb_rc next_chunk(struct push *p, int64_t *id, struct err *e)
{
	int64_t last = 0;
	enum mb_rc rc;

	rc = db_begin(p->db, e);
	if (rc != MB_OK)
		return rc;
	rc = store_chunks_next(p->db, p->opts.sequence, p->chunked_to,
			       PUSH_CHUNK_MAX, id, &last, e);
	if (rc == MB_OK)
		rc = db_commit(p->db, e);
	else
		db_rollback(p->db);
	if (rc == MB_OK && last)
		p->chunked_to = last;
	return rc;
}

/*
 * Record a chunk's answer (store_chunks_record says how) with the send
 * times, in one commit.
 */
static enum mb_rc record_chunk(struct push *p, int64_t id,
			       const struct http_request *req, struct err *e)
{
	int ok = req->status / 100 == 2;
	char text[512];
	enum mb_rc rc;

	meisa_answer_text(req, text, sizeof(text));
	rc = db_begin(p->db, e);
	if (rc == MB_OK)
		rc = store_chunks_record(p->db, id, ok, req->status,
					 buf_str(&req->response), text, e);
	if (rc == MB_OK)
		rc = flush_sends(p, e);
	if (rc == MB_OK)
		return db_commit(p->db, e);
	db_rollback(p->db);
	return rc;
}

static void report_chunk(struct push *p, const struct push_result *res)
{
	struct meisa_counters c;
	struct push_progress pr = { "enroll", 0, 0, 0, 0, 0, 0, 0, -1, 0, "" };

	meisa_counters(p->api, &c);
	pr.done = res->chunks;
	pr.failed = res->enroll_failed;
	pr.requests = c.requests;
	pr.retries = c.retries;
	pr.throttled = c.throttled;
	pr.elapsed_ms = clock_mono_ms() - p->started_ms;
	p->opts.progress(p->opts.ctx, &pr);
}

static enum mb_rc run_enrollment(struct push *p, struct push_result *res,
				 struct err *e)
{
	struct buf body = BUF_INIT;
	struct http_request *req;
	enum mb_rc rc = MB_OK;
	int64_t id;

	p->chunked_to = 0;
	for (;;) {
		if (meisa_stopping(p->api) || (p->opts.max_requests &&
		    meisa_requests(p->api) >= p->opts.max_requests)) {
			rc = err_set(e, MB_ESTOPPED, "stopped");
			break;
		}
		rc = next_chunk(p, &id, e);
		if (rc != MB_OK || !id)
			break;
		rc = store_chunks_body(p->db, p->opts.sequence, id, &body, e);
		if (rc != MB_OK)
			break;
		req = http_request_new("POST", "/sequences/api/bulk-enroll/",
				       body.data, body.len, NULL);
		req->about = "chunk";
		req->about_id = id;
		rc = meisa_call(p->api, req, e);
		if (rc == MB_EUNAVAILABLE)
			progress_kept(e);
		if (rc == MB_OK)
			rc = record_chunk(p, id, req, e);
		if (rc == MB_OK) {
			res->chunks++;
			if (req->status / 100 != 2)
				res->enroll_failed++;
		}
		http_request_free(req);
		if (rc != MB_OK)
			break;
		if (p->opts.progress)
			report_chunk(p, res);
	}
	buf_release(&body);
	return rc;
}

/*
 * Before the first write: the generation is pushed from now on (the next
 * staged file opens a new one), --full and --retry-failed put back what
 * they send again, and then the unconfirmed contacts are skipped or, with
 * --include-unconfirmed, sent (store_outbox.h).
 */
static enum mb_rc begin_run(struct push *p, struct err *e)
{
	enum mb_rc rc = db_begin(p->db, e);

	if (rc == MB_OK)
		rc = store_outbox_begin_run(p->db, p->opts.full,
					    p->opts.retry_failed, e);
	if (rc == MB_OK)
		rc = store_outbox_decide_unconfirmed(p->db,
				p->opts.include_unconfirmed, e);
	if (rc == MB_OK)
		return db_commit(p->db, e);
	db_rollback(p->db);
	return rc;
}

/*
 * MB_EFAILED when a contact of the generation failed, or an address was
 * neither enrolled nor skipped for a reason Meisa documents; the message
 * says which, and how to send the failed contacts again.
 */
static enum mb_rc check_outcomes(struct push *p, struct push_result *res,
				 struct err *e)
{
	struct store_outcomes o;
	struct buf msg = BUF_INIT;
	enum mb_rc rc;

	rc = store_outbox_outcomes(p->db, &o, e);
	if (rc == MB_OK)
		res->enroll_unknown = o.enroll_unknown;
	if (rc == MB_OK && o.failed)
		buf_printf(&msg, "; %lld contacts failed at the API (once the"
			   " cause is fixed, push --retry-failed sends them"
			   " again)", (long long)o.failed);
	if (rc == MB_OK && o.enroll_refused)
		buf_printf(&msg, "; %lld enrollments were refused",
			   (long long)o.enroll_refused);
	if (rc == MB_OK && res->enroll_unknown)
		buf_printf(&msg, "; %lld addresses came back from bulk-enroll"
			   " with an unknown status or none (not known to be"
			   " enrolled)", (long long)res->enroll_unknown);
	if (rc == MB_OK && msg.len)
		rc = err_set(e, MB_EFAILED, "%s; 'meisa-bulk export results'"
			     " lists them", msg.data + 2);
	buf_release(&msg);
	return rc;
}

enum mb_rc push_run(struct push *p, struct push_result *res, struct err *e)
{
	struct meisa_counters c;
	int64_t pending = 0;
	enum mb_rc rc;

	memset(res, 0, sizeof(*res));
	rc = begin_run(p, e);
	if (rc == MB_OK)
		rc = run_upserts(p, res, e);
	if (rc == MB_OK && p->opts.sequence)
		rc = run_enrollment(p, res, e);
	if (rc == MB_OK)
		rc = store_outbox_pending(p->db, &pending, e);
	if (rc == MB_OK && pending)
		rc = err_set(e, MB_ESTOPPED, "stopped with %lld contacts still"
			     " to upsert", (long long)pending);
	/* Nothing left to send: the next --full starts a new pass. */
	if (rc == MB_OK)
		rc = store_outbox_full_done(p->db, e);
	if (rc == MB_OK)
		rc = check_outcomes(p, res, e);
	meisa_counters(p->api, &c);
	res->requests = c.requests;
	res->retries = c.retries;
	res->throttled = c.throttled;
	res->elapsed_ms = clock_mono_ms() - p->started_ms;
	return rc;
}
