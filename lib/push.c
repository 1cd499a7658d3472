/*
 * push: pre-flight, the upsert outbox loop, enrollment chunks.
 *
 * Every query is about the latest generation (p->gen, or the SQL below
 * for statements built once): contacts of earlier generations that the
 * latest one lacks are left alone.
 */
#include "push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "status.h"
#include "xalloc.h"

#define CURRENT_GEN "(SELECT coalesce(max(id), 0) FROM generations)"

/*
 * What --full sends again besides the pending contacts: the upserted ones
 * (and failed ones, on a fresh pass) of the generation; when a full pass
 * began earlier (full_since), only those acknowledged before it.
 */
#define FULL_AGAIN_SQL \
	" gen = " CURRENT_GEN " AND (SELECT full_since FROM generations" \
	" WHERE id = contacts.gen) IS NULL" \
	" AND state IN ('upserted', 'failed')" \
	" OR gen = " CURRENT_GEN " AND state = 'upserted' AND acked_at <" \
	" (SELECT full_since FROM generations WHERE id = contacts.gen)"

/* A request waiting to be (re)sent, and when. */
struct retry {
	struct http_request *req;
	int64_t due_ms;
	unsigned attempts;
};

/* State of one upsert phase. */
struct upserts {
	sqlite3_stmt *next;
	sqlite3_stmt *ok;
	sqlite3_stmt *fail;
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
	char sql[256];

	if (!n)
		return MB_OK;
	snprintf(sql, sizeof(sql), "DELETE FROM sends WHERE rowid IN (SELECT"
		 " rowid FROM sends WHERE t_ms = %lld LIMIT %zu);"
		 " UPDATE meta SET value = CAST(value AS INTEGER) - %zu"
		 " WHERE key = 'requests'", (long long)p->reserve_stamp, n,
		 uncount ? n : 0);
	return db_exec(p->db, sql, e);
}

/*
 * Write buffered send times and count the sends no slot covered (inside a
 * tx); the covered ones replace their slot's row.
 */
static enum mb_rc flush_sends(struct push *p, struct err *e)
{
	int64_t horizon = ratelimit_horizon_ms(&p->api.rl);
	sqlite3_stmt *s = NULL;
	char sql[160];
	enum mb_rc rc;
	size_t i;

	if (!p->nsends)
		return MB_OK;
	rc = db_prepare(p->db, &s, "INSERT INTO sends(t_ms) VALUES(?)", e);
	for (i = 0; rc == MB_OK && i < p->nsends; i++) {
		sqlite3_bind_int64(s, 1, p->sends[i]);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = db_fail(p->db, "cannot record request in", e);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = CAST(value AS"
		 " INTEGER) + %zu WHERE key = 'requests';"
		 " DELETE FROM sends WHERE t_ms < %lld", p->nsends - p->covered,
		 (long long)(db_now_ms() - (horizon ? horizon : 3600000)));
	if (rc == MB_OK)
		rc = db_exec(p->db, sql, e);
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
	char sql[256];
	enum mb_rc rc;

	if (slot_ready(p, now_ms))
		return MB_OK;
	snprintf(sql, sizeof(sql), "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
		 " SELECT i + 1 FROM n WHERE i < %d) INSERT INTO sends(t_ms)"
		 " SELECT %lld FROM n; UPDATE meta SET value = CAST(value AS"
		 " INTEGER) + %d WHERE key = 'requests'", PUSH_RESERVE,
		 (long long)stamp, PUSH_RESERVE);
	rc = db_begin(p->db, e);
	if (rc == MB_OK)
		rc = flush_sends(p, e);
	if (rc == MB_OK)
		rc = drop_slots(p, p->reserved, 1, e);
	if (rc == MB_OK)
		rc = db_exec(p->db, sql, e);
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

/* Replay the send times of the last hour so the limiter knows them. */
static enum mb_rc load_sends(struct push *p, struct err *e)
{
	int64_t horizon = ratelimit_horizon_ms(&p->api.rl), wall, mono;
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	if (!horizon)
		return MB_OK;
	rc = db_prepare(p->db, &s, "SELECT t_ms FROM sends WHERE t_ms >= ?"
			" ORDER BY t_ms", e);
	if (rc != MB_OK)
		return rc;
	/*
	 * Stored times are wall-clock; the limiter runs on the monotonic
	 * clock.  Times "in the future" (the wall clock went back since) count
	 * as sent now rather than stalling the windows for the step.
	 */
	wall = clock_wall_ms();
	mono = clock_mono_ms();
	sqlite3_bind_int64(s, 1, wall - horizon);
	while (sqlite3_step(s) == SQLITE_ROW)
		ratelimit_record(&p->api.rl, clock_wall_to_mono(
				 sqlite3_column_int64(s, 0), wall, mono));
	sqlite3_finalize(s);
	return MB_OK;
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
		rc = load_sends(p, e);
	if (rc == MB_OK)
		rc = db_int(db, "SELECT " CURRENT_GEN, &p->gen, e);
	return rc;
}

void push_close(struct push *p)
{
	struct err ignored = ERR_INIT;

	if (p->db && (p->nsends || p->reserved))
		save_sends(p, 1, &ignored);
	meisa_close(&p->api);
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
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = meisa_sequences(&p->api, p->opts.sequence, &list, e);
	if (rc == MB_OK)
		rc = db_prepare(p->db, &s, "SELECT coalesce(json_extract(value,"
				" '$.status'), 'active') FROM json_each(?) WHERE"
				" json_extract(value, '$.slug') = ?", e);
	if (rc == MB_OK) {
		sqlite3_bind_text(s, 1, buf_str(&list), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, p->opts.sequence, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			rc = buf_addstr(&status, (const char *)
					sqlite3_column_text(s, 0));
		if (!status.len)
			rc = err_set(e, MB_EUSAGE, "sequence '%s' does not exist"
				     " ('meisa-bulk sequences' lists them)",
				     p->opts.sequence);
		else if (strcmp(status.data, "active") != 0)
			rc = err_set(e, MB_EUSAGE, "sequence '%s' is %s, not"
				     " active: activate it in Meisa first",
				     p->opts.sequence, status.data);
	}
	sqlite3_finalize(s);
	buf_release(&list);
	buf_release(&status);
	return rc;
}

/* Replace the staging file's copy of Meisa's unsubscribed list. */
static enum mb_rc store_unsubscribed(struct push *p, struct push_plan *plan,
				     struct err *e)
{
	struct buf raw = BUF_INIT;
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = meisa_unsubscribed(&p->api, &raw, e);
	if (rc == MB_OK)
		rc = db_begin(p->db, e);
	if (rc != MB_OK)
		goto out;
	rc = db_exec(p->db, "DELETE FROM unsubscribed", e);
	if (rc == MB_OK)
		/* Normalised as staged addresses are (validate.h). */
		rc = db_prepare(p->db, &s, "INSERT OR IGNORE INTO unsubscribed"
				" SELECT coalesce(mb_email(value),"
				" lower(trim(value))) FROM json_each(?1,"
				" '$.emails') WHERE json_valid(?1)"
				" AND type = 'text'", e);
	if (rc == MB_OK) {
		sqlite3_bind_text(s, 1, raw.data, (int)raw.len, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = db_fail(p->db, "cannot store unsubscribed list in",
				     e);
		sqlite3_finalize(s);
		s = NULL;
	}
	if (rc == MB_OK)
		rc = db_prepare(p->db, &s, "SELECT coalesce(json_extract(?1,"
				" '$.as_of'), '') WHERE json_valid(?1)", e);
	if (rc == MB_OK) {
		sqlite3_bind_text(s, 1, raw.data, (int)raw.len, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			rc = buf_addstr(&plan->as_of, (const char *)
					sqlite3_column_text(s, 0));
		else
			rc = err_set(e, MB_EPROTO, "Meisa's unsubscribed list"
				     " is not JSON");
	}
	if (rc == MB_OK)
		rc = db_meta_set(p->db, "unsubscribed_as_of",
				 buf_str(&plan->as_of), e);
	if (rc == MB_OK)
		rc = flush_sends(p, e);
	if (rc == MB_OK)
		rc = db_commit(p->db, e);
	else
		db_rollback(p->db);
out:
	sqlite3_finalize(s);
	buf_release(&raw);
	return rc;
}

/*
 * NOT INDEXED: in rowid order (see u.next).  The next chunk's contacts are
 * searched from p->chunked_to on, so that building 2,000 chunks does not
 * walk the contacts already chunked 2,000 times.
 */
static const char enrollable_sql[] =
	" FROM contacts NOT INDEXED WHERE source_status IS NULL"
	" AND chunk_id IS NULL"
	" AND enroll_status IS NULL AND state IN ('pending', 'sent',"
	" 'upserted') AND email NOT IN (SELECT email FROM unsubscribed)"
	" AND gen = " CURRENT_GEN;

/*
 * The plan's contact counts in one pass over the generation (each count
 * on its own would scan the table again).  With --full the contacts sent
 * again are counted as to upsert and none as unchanged; with --retry-failed
 * the failed ones too.
 */
static enum mb_rc count_contacts(struct push *p, struct push_plan *plan,
				 struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_prepare(p->db, &s, "SELECT"
			" coalesce(sum(state IN ('pending', 'sent')), 0),"
			" coalesce(sum(?2 AND (" FULL_AGAIN_SQL ")), 0),"
			" coalesce(sum(NOT ?2 AND state = 'upserted' AND"
			"  acked_gen < gen), 0),"
			" coalesce(sum(state = 'skipped'), 0),"
			" coalesce(sum(source_status IS NOT NULL OR"
			"  u.email IS NOT NULL), 0),"
			" coalesce(sum(u.email IS NOT NULL), 0),"
			" coalesce(sum(state = 'failed' AND NOT (?2 AND ("
			FULL_AGAIN_SQL "))), 0)"
			" FROM contacts LEFT JOIN unsubscribed u"
			" ON u.email = contacts.email WHERE contacts.gen = ?1",
			e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, p->gen);
	sqlite3_bind_int(s, 2, p->opts.full != 0);
	if (sqlite3_step(s) == SQLITE_ROW) {
		plan->to_upsert = sqlite3_column_int64(s, 0) +
			sqlite3_column_int64(s, 1);
		plan->unchanged = sqlite3_column_int64(s, 2);
		plan->skipped = sqlite3_column_int64(s, 3);
		plan->suppressed = sqlite3_column_int64(s, 4);
		plan->meisa_unsubscribed = sqlite3_column_int64(s, 5);
		plan->failed = sqlite3_column_int64(s, 6);
		if (p->opts.retry_failed)
			plan->to_upsert += plan->failed;
	} else {
		rc = db_fail(p->db, "cannot read", e);
	}
	sqlite3_finalize(s);
	return rc;
}

static enum mb_rc count_plan(struct push *p, struct push_plan *plan,
			     struct err *e)
{
	struct buf sql = BUF_INIT;
	int64_t open_chunks = 0;
	enum mb_rc rc;

	plan->generation = p->gen;
	rc = count_contacts(p, plan, e);
	if (rc == MB_OK && p->opts.sequence) {
		rc = buf_printf(&sql, "SELECT count(*)%s", enrollable_sql);
		if (rc == MB_OK)
			rc = db_int(p->db, sql.data, &plan->to_enroll, e);
		if (rc == MB_OK)
			rc = db_int(p->db, "SELECT count(*) FROM chunks WHERE"
				    " state IN ('built', 'sent')", &open_chunks,
				    e);
		plan->chunks = open_chunks + (plan->to_enroll +
				PUSH_CHUNK_MAX - 1) / PUSH_CHUNK_MAX;
	}
	plan->requests = plan->to_upsert + plan->chunks;
	plan->estimate_ms = ratelimit_estimate_ms(&p->api.rl,
			(uint64_t)plan->requests, clock_mono_ms());
	buf_release(&sql);
	return rc;
}

enum mb_rc push_preflight(struct push *p, struct push_plan *plan,
			  struct err *e)
{
	struct meisa_key_info info;
	enum mb_rc rc;

	buf_init(&info.scopes, BUF_MAX_DEFAULT);
	rc = meisa_ping(&p->api, &info, e);
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
		rc = store_unsubscribed(p, plan, e);
	if (rc == MB_OK)
		rc = count_plan(p, plan, e);
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
	if (meisa_stopping(&p->api) || u->fatal != MB_OK)
		return 1;
	return p->opts.max_requests && p->api.requests >= p->opts.max_requests;
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

/* The next contact to upsert, as a request; NULL when none is left. */
static struct http_request *next_contact(struct push *p, struct upserts *u)
{
	struct http_request *req = NULL;

	if (u->exhausted)
		return NULL;
	sqlite3_bind_int64(u->next, 1, u->last_id);
	sqlite3_bind_int64(u->next, 2, p->gen);
	if (sqlite3_step(u->next) == SQLITE_ROW) {
		u->last_id = sqlite3_column_int64(u->next, 0);
		req = http_request_new("POST", "/contacts/upsert/",
			(const char *)sqlite3_column_text(u->next, 1),
			(size_t)sqlite3_column_bytes(u->next, 1), NULL);
		req->tag_id = u->last_id;
	} else {
		u->exhausted = 1;
	}
	sqlite3_reset(u->next);
	return req;
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
	sqlite3_stmt *s = ok ? u->ok : u->fail;
	unsigned attempts = (unsigned)(uintptr_t)req->tag + 1;
	char text[512];
	enum mb_rc rc;

	rc = ensure_tx(p, u, e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_int64(s, 1, req->tag_id);
	sqlite3_bind_int(s, 2, (int)req->status);
	sqlite3_bind_int(s, 3, (int)attempts);
	if (ok) {
		sqlite3_bind_text(s, 4, buf_str(&req->response),
				  (int)req->response.len, SQLITE_STATIC);
	} else {
		meisa_answer_text(req, text, sizeof(text));
		sqlite3_bind_text(s, 4, text, -1, SQLITE_TRANSIENT);
	}
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_fail(p->db, "cannot record answer in", e);
	sqlite3_reset(s);
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

	meisa_resent(&p->api, req);
	switch (verdict) {
	case MEISA_DONE:
	case MEISA_REFUSED:
		meisa_final(&p->api);
		rc = settle(p, u, req, verdict == MEISA_DONE, e);
		http_request_free(req);
		return rc;
	case MEISA_THROTTLED:
		rc = meisa_throttled(&p->api, req, &stop);
		if (rc != MB_OK)
			set_fatal(u, rc, &stop);
		add_retry(u, req, now, attempts);
		return MB_OK;
	case MEISA_RETRY:
		meisa_failed(&p->api, req);
		add_retry(u, req, now + meisa_backoff_ms(&p->api, attempts),
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

	if (!p->api.rl.nwindows) {
		pr->eta_ms = -1;
		return;
	}
	if (u->last_eta_ms && now - u->last_eta_ms < 1000)
		return;
	u->last_eta_ms = now;
	pr->eta_ms = pr->total > pr->done ? ratelimit_estimate_ms(&p->api.rl,
			(uint64_t)(pr->total - pr->done), now) : 0;
}

static void report(struct push *p, struct upserts *u, int force)
{
	int64_t now = clock_mono_ms();
	struct push_progress *pr = &u->progress;

	if (!p->opts.progress || (!force && now - u->last_progress_ms < 200))
		return;
	u->last_progress_ms = now;
	pr->requests = p->api.requests;
	pr->retries = p->api.retries;
	pr->throttled = p->api.throttled;
	pr->elapsed_ms = now - p->started_ms;
	estimate(p, u, now);
	pr->wait_ms = http_in_flight(&p->api.http) || force ? 0 :
		meisa_waiting(&p->api, now, pr->wait_why,
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

	while (!stop_sending(p, u) && http_in_flight(&p->api.http) < window) {
		wait = ratelimit_wait_ms(&p->api.rl, now);
		if (wait > 0) {
			*wake_ms = wait;
			return MB_OK;
		}
		req = due_retry(u, now, &next_due);
		if (!req && http_in_flight(&p->api.http) + u->nretries < window)
			req = next_contact(p, u);
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
		meisa_sent(&p->api);
		rc = http_submit(&p->api.http, req, e);
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
	if (http_in_flight(&p->api.http))
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
		rc = http_wait(&p->api.http, (int)wake, e);
		while (rc == MB_OK && (req = http_next_done(&p->api.http)))
			rc = on_answer(p, u, req, e);
		now = clock_mono_ms();
		if (rc == MB_OK && (u->batch >= PUSH_BATCH ||
		    now - u->last_commit_ms >= PUSH_BATCH_MS))
			rc = commit_batch(p, u, e);
		report(p, u, 0);
		if (rc == MB_OK && meisa_tick(&p->api, &stop) != MB_OK)
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
	u.progress.phase = "upsert";
	u.last_commit_ms = u.last_progress_ms = clock_mono_ms();
	rc = db_int(p->db, "SELECT count(*) FROM contacts WHERE state IN"
		    " ('pending', 'sent') AND gen = " CURRENT_GEN,
		    &u.progress.total, e);
	if (rc == MB_OK)
		/*
		 * NOT INDEXED: a walk along the rowid, resumed after the
		 * last contact taken.  Through an index on (gen, state), as
		 * schema 3 briefly had, the two states were two ranges to
		 * merge and sort on every call: quadratic (measured: 99k
		 * upserts took 684 s, not 10 s).
		 */
		rc = db_prepare(p->db, &u.next, "SELECT id, body FROM contacts"
				" NOT INDEXED WHERE id > ?1 AND state IN"
				" ('pending', 'sent') AND gen = ?2 ORDER BY id"
				" LIMIT 1", e);
	/*
	 * The body acknowledged is the one staged (no staging runs during a
	 * push: the run lock), so its hash is body_hash (left NULL by the
	 * staging of a first generation, which has nothing to compare).
	 * custom_fields merge: the keys Meisa holds are the union of all
	 * those sent.
	 */
	if (rc == MB_OK)
		rc = db_prepare(p->db, &u.ok, "UPDATE contacts SET"
				" state = 'upserted', http_status = ?2,"
				" attempts = attempts + ?3, error = NULL,"
				" meisa_id = CASE WHEN json_valid(?4) THEN"
				" json_extract(?4, '$.id') END,"
				" acked_at = strftime('%Y-%m-%dT%H:%M:%fZ'),"
				" body_hash = coalesce(body_hash,"
				" mb_body_hash(body)), acked_hash ="
				" coalesce(body_hash, mb_body_hash(body)),"
				" acked_gen = gen,"
				" acked_fields = (SELECT json_group_array(k)"
				" FROM (SELECT key AS k FROM json_each("
				" contacts.body, '$.custom_fields') UNION"
				" SELECT value FROM json_each(coalesce("
				" contacts.acked_fields, '[]')) ORDER BY 1))"
				" WHERE id = ?1", e);
	if (rc == MB_OK)
		rc = db_prepare(p->db, &u.fail, "UPDATE contacts SET"
				" state = 'failed', http_status = ?2,"
				" attempts = attempts + ?3, error = ?4"
				" WHERE id = ?1", e);
	if (rc == MB_OK)
		rc = upsert_loop(p, &u, e);
	if (u.in_tx)
		db_rollback(p->db);
	for (i = 0; i < u.nretries; i++)
		http_request_free(u.retries[i].req);
	free(u.retries);
	sqlite3_finalize(u.next);
	sqlite3_finalize(u.ok);
	sqlite3_finalize(u.fail);
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
	struct buf sql = BUF_INIT;
	sqlite3_stmt *s = NULL;
	int64_t size = 0, last = 0;
	char now[32];
	enum mb_rc rc;

	rc = db_begin(p->db, e);
	if (rc != MB_OK)
		return rc;
	/* A resumed chunk loses addresses Meisa has since unsubscribed. */
	rc = db_exec(p->db, "UPDATE contacts SET chunk_id = NULL, enroll_status"
		     " = 'suppressed' WHERE chunk_id IN (SELECT id FROM chunks"
		     " WHERE state IN ('built', 'sent')) AND email IN (SELECT"
		     " email FROM unsubscribed)", e);
	if (rc == MB_OK)
		rc = db_int(p->db, "SELECT coalesce(min(id), 0) FROM chunks"
			    " WHERE state IN ('built', 'sent')", id, e);
	if (rc == MB_OK && !*id) {
		db_now_iso(now, sizeof(now));
		rc = db_prepare(p->db, &s, "INSERT INTO chunks(sequence_slug,"
				" size, created_at) VALUES(?, 0, ?)", e);
		if (rc == MB_OK) {
			sqlite3_bind_text(s, 1, p->opts.sequence, -1,
					  SQLITE_STATIC);
			sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
			if (sqlite3_step(s) != SQLITE_DONE)
				rc = db_fail(p->db, "cannot build chunk in", e);
			*id = sqlite3_last_insert_rowid(p->db->sql);
		}
		if (rc == MB_OK)
			rc = buf_printf(&sql, "UPDATE contacts SET chunk_id ="
					" %lld WHERE id IN (SELECT id%s AND state ="
					" 'upserted' AND id > %lld ORDER BY id"
					" LIMIT %d)", (long long)*id,
					enrollable_sql,
					(long long)p->chunked_to,
					PUSH_CHUNK_MAX);
		if (rc == MB_OK)
			rc = db_exec(p->db, sql.data, e);
		size = sqlite3_changes(p->db->sql);
		buf_reset(&sql);
		if (rc == MB_OK)
			rc = buf_printf(&sql, size ? "UPDATE chunks SET size ="
					" %lld WHERE id = %lld" : "DELETE FROM"
					" chunks WHERE %lld = 0 AND id = %lld",
					(long long)size, (long long)*id);
		if (rc == MB_OK)
			rc = db_exec(p->db, sql.data, e);
		buf_reset(&sql);
		if (rc == MB_OK && size)
			rc = buf_printf(&sql, "SELECT max(id) FROM contacts"
					" WHERE chunk_id = %lld",
					(long long)*id);
		if (rc == MB_OK && size)
			rc = db_int(p->db, sql.data, &last, e);
		if (!size)
			*id = 0;
	}
	sqlite3_finalize(s);
	buf_release(&sql);
	if (rc == MB_OK)
		rc = db_commit(p->db, e);
	else
		db_rollback(p->db);
	if (rc == MB_OK && last)
		p->chunked_to = last;
	return rc;
}

static enum mb_rc chunk_body(struct push *p, int64_t id, struct buf *out,
			     struct err *e)
{
	sqlite3_stmt *s = NULL;
	enum mb_rc rc;

	rc = db_prepare(p->db, &s, "SELECT json_object('sequence_slug', ?1,"
			" 'emails', (SELECT json_group_array(email) FROM"
			" (SELECT email FROM contacts WHERE chunk_id = ?2"
			" ORDER BY id)))", e);
	if (rc != MB_OK)
		return rc;
	sqlite3_bind_text(s, 1, p->opts.sequence, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = buf_set(out, sqlite3_column_text(s, 0),
			     (size_t)sqlite3_column_bytes(s, 0));
	else
		rc = db_fail(p->db, "cannot read chunk from", e);
	sqlite3_finalize(s);
	return rc;
}

/*
 * Record a chunk's answer: each address's outcome from "results", as Meisa
 * wrote it (status.h counts those it does not know), or the failure.  An
 * address a results list leaves out is "missing_from_answer": nothing says
 * it was enrolled.  A 2xx without a results list acknowledges them all.
 */
static enum mb_rc record_chunk(struct push *p, int64_t id,
			       const struct http_request *req, struct err *e)
{
	int ok = req->status / 100 == 2;
	sqlite3_stmt *s = NULL;
	char text[512];
	enum mb_rc rc;

	/*
	 * An answer names the addresses it says something about; the others
	 * are missing from it.  The answer is read once into a table (it must
	 * be MATERIALIZED: flattened, SQLite scans it again for every member,
	 * 500 x 500 JSON reads a chunk) and its addresses looked up.
	 */
	static const char *const answered[] = {
		"UPDATE contacts SET enroll_status = CASE WHEN NOT"
		" json_valid(?2) THEN 'acknowledged' WHEN json_type(?2,"
		" '$.results') = 'array' THEN 'missing_from_answer'"
		" ELSE 'acknowledged' END WHERE chunk_id = ?1",
		"WITH r AS MATERIALIZED (SELECT"
		" lower(json_extract(value, '$.email')) AS email,"
		" json_extract(value, '$.status') AS status FROM json_each("
		" CASE WHEN json_valid(?2) THEN ?2 ELSE '{}' END, '$.results')"
		" WHERE json_extract(value, '$.status') IS NOT NULL)"
		" UPDATE contacts SET enroll_status = r.status FROM r"
		" WHERE contacts.email = r.email AND contacts.chunk_id = ?1",
		NULL
	};
	static const char *const refused[] = {
		"UPDATE contacts SET enroll_status = 'failed', error = ?2"
		" WHERE chunk_id = ?1",
		NULL
	};
	const char *const *sql = ok ? answered : refused;

	meisa_answer_text(req, text, sizeof(text));
	rc = db_begin(p->db, e);
	for (; rc == MB_OK && *sql; sql++) {
		rc = db_prepare(p->db, &s, *sql, e);
		if (rc != MB_OK)
			break;
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_bind_parameter_count(s) >= 2)
			sqlite3_bind_text(s, 2, ok ? buf_str(&req->response) :
					  text, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = db_fail(p->db, "cannot record chunk in", e);
		sqlite3_finalize(s);
		s = NULL;
	}
	if (rc == MB_OK)
		rc = db_prepare(p->db, &s, "UPDATE chunks SET state = ?2,"
				" http_status = ?3, error = ?4, attempts ="
				" attempts + 1, acked_at = strftime("
				"'%Y-%m-%dT%H:%M:%fZ') WHERE id = ?1", e);
	if (rc == MB_OK) {
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_text(s, 2, ok ? "acknowledged" : "failed", -1,
				  SQLITE_STATIC);
		sqlite3_bind_int(s, 3, (int)req->status);
		if (ok)
			sqlite3_bind_null(s, 4);
		else
			sqlite3_bind_text(s, 4, text, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = db_fail(p->db, "cannot record chunk in", e);
	}
	sqlite3_finalize(s);
	if (rc == MB_OK)
		rc = flush_sends(p, e);
	if (rc == MB_OK)
		return db_commit(p->db, e);
	db_rollback(p->db);
	return rc;
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
		if (meisa_stopping(&p->api) || (p->opts.max_requests &&
		    p->api.requests >= p->opts.max_requests)) {
			rc = err_set(e, MB_ESTOPPED, "stopped");
			break;
		}
		rc = next_chunk(p, &id, e);
		if (rc != MB_OK || !id)
			break;
		rc = chunk_body(p, id, &body, e);
		if (rc != MB_OK)
			break;
		req = http_request_new("POST", "/sequences/api/bulk-enroll/",
				       body.data, body.len, NULL);
		rc = meisa_call(&p->api, req, e);
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
		if (p->opts.progress) {
			struct push_progress pr = { "enroll", res->chunks, 0,
				res->enroll_failed, p->api.requests,
				p->api.retries, p->api.throttled,
				clock_mono_ms() - p->started_ms, -1, 0, "" };

			p->opts.progress(p->opts.ctx, &pr);
		}
	}
	buf_release(&body);
	return rc;
}

/*
 * Before the first write: the generation is pushed from now on (the next
 * staged file opens a new one), and --full and --retry-failed put back
 * what they send again.
 */
static enum mb_rc begin_run(struct push *p, struct err *e)
{
	enum mb_rc rc = db_begin(p->db, e);

	if (rc == MB_OK)
		rc = db_exec(p->db, "UPDATE generations SET pushed_at ="
			     " strftime('%Y-%m-%dT%H:%M:%fZ') WHERE id = "
			     CURRENT_GEN " AND pushed_at IS NULL", e);
	if (rc == MB_OK && p->opts.full)
		rc = db_exec(p->db, "UPDATE contacts SET state = 'pending'"
			     " WHERE" FULL_AGAIN_SQL ";"
			     "UPDATE generations SET full_since = strftime("
			     "'%Y-%m-%dT%H:%M:%fZ') WHERE id = " CURRENT_GEN
			     " AND full_since IS NULL", e);
	if (rc == MB_OK && p->opts.retry_failed)
		rc = db_exec(p->db, "UPDATE contacts SET state = 'pending'"
			     " WHERE state = 'failed' AND gen = " CURRENT_GEN,
			     e);
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
	int64_t failed = 0, refused = 0;
	struct buf msg = BUF_INIT;
	enum mb_rc rc;

	rc = db_int(p->db, "SELECT count(*) FROM contacts WHERE state ="
		    " 'failed' AND gen = " CURRENT_GEN, &failed, e);
	if (rc == MB_OK)
		rc = db_int(p->db, "SELECT count(*) FROM contacts WHERE"
			    " enroll_status = 'failed' AND gen = " CURRENT_GEN,
			    &refused, e);
	if (rc == MB_OK)
		rc = db_int(p->db, "SELECT count(*) FROM contacts WHERE"
			    " enroll_status NOT IN (" STATUS_ENROLL_KNOWN ")"
			    " AND gen = " CURRENT_GEN, &res->enroll_unknown,
			    e);
	if (rc == MB_OK && failed)
		buf_printf(&msg, "; %lld contacts failed at the API (once the"
			   " cause is fixed, push --retry-failed sends them"
			   " again)", (long long)failed);
	if (rc == MB_OK && refused)
		buf_printf(&msg, "; %lld enrollments were refused",
			   (long long)refused);
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
	int64_t pending = 0;
	enum mb_rc rc;

	memset(res, 0, sizeof(*res));
	rc = begin_run(p, e);
	if (rc == MB_OK)
		rc = run_upserts(p, res, e);
	if (rc == MB_OK && p->opts.sequence)
		rc = run_enrollment(p, res, e);
	if (rc == MB_OK)
		rc = db_int(p->db, "SELECT count(*) FROM contacts WHERE state IN"
			    " ('pending', 'sent') AND gen = " CURRENT_GEN,
			    &pending, e);
	if (rc == MB_OK && pending)
		rc = err_set(e, MB_ESTOPPED, "stopped with %lld contacts still"
			     " to upsert", (long long)pending);
	/* Nothing left to send: the next --full starts a new pass. */
	if (rc == MB_OK)
		rc = db_exec(p->db, "UPDATE generations SET full_since = NULL"
			     " WHERE id = " CURRENT_GEN, e);
	if (rc == MB_OK)
		rc = check_outcomes(p, res, e);
	res->requests = p->api.requests;
	res->retries = p->api.retries;
	res->throttled = p->api.throttled;
	res->elapsed_ms = clock_mono_ms() - p->started_ms;
	return rc;
}
