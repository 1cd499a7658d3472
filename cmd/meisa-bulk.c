/*
 * meisa-bulk: move contacts into Meisa in bulk.
 *
 * This file only parses arguments, wires library objects together, talks to
 * the user and maps results to exit statuses (SPEC.md).  Everything else
 * lives in lib/.  One cmd_<name>() per command, as in Git's git.c.
 */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include "db.h"
#include "err.h"
#include "export.h"
#include "guard.h"
#include "healthping.h"
#include "http.h"
#include "json.h"
#include "mapping.h"
#include "meisa.h"
#include "metrics.h"
#include "push.h"
#include "report.h"
#include "stage.h"
#include "status.h"
#include "store_runs.h"
#include "transcode.h"
#include "trace.h"
#include "version.h"

#define MAX_LIST 64

/* Everything the options can say, for every command. */
struct options {
	const char *db_path;
	int json, quiet, verbose;
	/* stage */
	const char *preset;
	struct mapping_override overrides[MAX_LIST];
	size_t noverrides;
	const char *tags[MAX_LIST];
	size_t ntags;
	char delimiter;
	const char *encoding;
	const char *source;
	/* push */
	const char *sequence;
	const char *rate;
	long concurrency;
	unsigned long long max_requests;
	int dry_run, yes, insecure, full;
	int retry_failed;
	int include_unconfirmed;
	struct guard_opts guard; /* --allow-partial, --max-missing */
	const char *api_key_file;
	const char *trace;       /* --trace FILE */
	int trace_bodies;
	/* others */
	const char *output;
	const char *search;
	int runs;
	int no_examples;      /* report */
	/* monitoring */
	const char *metrics_file;
	const char *ping_url;    /* secret-like: never echoed */
	char **args;             /* positional */
	int nargs;
	unsigned used;           /* OPT_* seen, for "does not apply" checks */
};

enum {
	OPT_DB = 1 << 0, OPT_JSON = 1 << 1, OPT_QUIET = 1 << 2,
	OPT_STAGE = 1 << 3, OPT_PUSH = 1 << 4, OPT_KEY = 1 << 5,
	OPT_OUTPUT = 1 << 6, OPT_SEARCH = 1 << 7, OPT_RUNS = 1 << 8,
	OPT_REPORT = 1 << 9,
	OPT_METRICS = 1 << 10, OPT_PING = 1 << 11,
};

struct cmd {
	const char *name;
	int (*fn)(struct options *o);
	unsigned accepts;        /* OPT_* groups */
	const char *usage;       /* synopsis, description, example */
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t resumes;    /* SIGCONTs: stopped time */
static int stderr_tty;
static int quiet, verbose;
static const char *progname = "meisa-bulk";

/* ---- messages ----------------------------------------------------------- */

static void say(const char *level, const char *fmt, va_list ap)
{
	const char *no_color = getenv("NO_COLOR");
	/* no-color.org: present and not empty. */
	int color = stderr_tty && !(no_color && *no_color);

	if (color)
		fprintf(stderr, "%s: \033[%sm%s:\033[0m ", progname,
			strcmp(level, "error") == 0 ? "1;31" : "1;33", level);
	else
		fprintf(stderr, "%s: %s: ", progname, level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say("error", fmt, ap);
	va_end(ap);
}

static void warning(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void warning(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	say("warning", fmt, ap);
	va_end(ap);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int fail(enum mb_rc rc, const struct err *e)
{
	error("%s", e->msg[0] ? e->msg : mb_strerror(rc));
	return mb_exit_code(rc);
}

/*
 * Stage's messages: a file refused as a whole is an error the user must see
 * even with -q (cron mails it); the rest are warnings -q silences.
 */
static void on_stage_warning(void *ctx, int refused, const char *msg)
{
	(void)ctx;
	if (refused)
		error("%s", msg);
	else
		warning("%s", msg);
}

/* ---- shared plumbing ---------------------------------------------------- */

static void on_signal(int sig)
{
	if (stop_requested) {
		/* Second signal: the user insists. */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	stop_requested = 1;
}

static void on_cont(int sig)
{
	(void)sig;
	resumes++;
}

/*
 * SIGHUP (a closed terminal or SSH session) stops like SIGTERM: exit 75
 * with the resume hint.  SIGCONT tells the give-up rule that the time just
 * past was spent stopped, not failing.
 */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_cont;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCONT, &sa, NULL);
}

/* Personal data: say so once when others can read an existing file. */
static void warn_mode(const struct db *db)
{
	if (db->mode & 0044)
		warning("staging file '%s' is readable by %s (mode %04o); it"
			" holds personal data: chmod 600 it", db->path,
			db->mode & 0004 ? "others" : "its group",
			db->mode & 07777);
}

static enum mb_rc open_db(struct options *o, enum db_mode mode,
			  struct db *db, struct err *e)
{
	enum mb_rc rc = db_open(db, o->db_path, mode, e);

	if (rc == MB_OK)
		warn_mode(db);
	return rc;
}

/*
 * For commands that only read (status, export): they never take the run
 * lock, so a slow export or a polling status cannot lock out a push, and a
 * running push does not stop them (they read its last commit).  Only a file
 * a reader cannot use as it is (an older schema to migrate) is opened the
 * usual way.
 */
static enum mb_rc open_db_to_read(struct options *o, struct db *db,
				  struct err *e)
{
	enum mb_rc rc = db_open(db, o->db_path, DB_READER, e);

	if (rc == MB_OK)
		warn_mode(db);
	if (rc != MB_ELOCKED)
		return rc;
	err_clear(e);
	return open_db(o, DB_EXISTING, db, e);
}

/*
 * An argument that holds an API key: the key is never an option, but a
 * user may still paste it where a file name goes, and the run history must
 * not keep it.
 */
static int looks_secret(const char *arg)
{
	const char *key = getenv("MEISA_API_KEY");

	if (strstr(arg, "meisa_live_") || strstr(arg, "meisa_test_"))
		return 1;
	return key && strlen(key) >= 8 && strstr(arg, key);
}

/* The value of --ping-url as getopt found it: inside one of argv. */
static const char *ping_url_arg;

/*
 * argv[i] as it may be shown: a key becomes <redacted>, and so does the
 * ping URL (it holds the check's secret), after "--ping-url=" if so.
 */
static enum mb_rc add_shown_arg(struct buf *b, const char *arg)
{
	size_t len = strlen(arg);
	enum mb_rc rc = MB_OK;

	if (ping_url_arg && ping_url_arg >= arg && ping_url_arg <= arg + len) {
		rc = buf_add(b, arg, (size_t)(ping_url_arg - arg));
		return rc == MB_OK ? buf_addstr(b, "<redacted>") : rc;
	}
	return buf_addstr(b, looks_secret(arg) ? "<redacted>" : arg);
}

/* The command line as typed, for the run history, without secrets. */
static char *joined_args(int argc, char **argv)
{
	struct buf b = BUF_INIT;
	int i;

	for (i = 0; i < argc; i++) {
		if (i && buf_addch(&b, ' ') != MB_OK)
			break;
		if (add_shown_arg(&b, argv[i]) != MB_OK)
			break;
	}
	return buf_detach(&b, NULL);
}

static int saved_argc;
static char **saved_argv;

/*
 * One rule for the key file and MEISA_API_KEY: a UTF-8 BOM and surrounding
 * whitespace (spaces, tabs, CR, LF: an editor's or echo's newline) are not
 * part of the key; any other byte that is not printable ASCII (an inner
 * space or newline, a control character) is refused, and the message never
 * shows the key.
 */
static enum mb_rc clean_key(struct buf *key, const char *from, struct err *e)
{
	const char *p = key->len ? key->data : "", *end = p + key->len, *q;

	if (end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	while (p < end && strchr(" \t\r\n", *p))
		p++;
	while (end > p && strchr(" \t\r\n", end[-1]))
		end--;
	for (q = p; q < end; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return err_set(e, MB_EAUTH, "the API key contains a"
				       " space or a control character (%s): it"
				       " must hold the key alone, without"
				       " inner spaces, line breaks or"
				       " non-ASCII characters", from);
	if (p == end)
		return err_set(e, MB_EAUTH, "no API key: set MEISA_API_KEY (or"
			       " use --api-key-file FILE)");
	memmove(key->data, p, (size_t)(end - p));
	key->len = (size_t)(end - p);
	key->data[key->len] = '\0';
	return MB_OK;
}

/* The whole key file (a key is short: more than 4 KiB is not a key). */
static enum mb_rc read_key_file(const char *path, struct buf *key,
				struct err *e)
{
	char text[4096];
	enum mb_rc rc = MB_OK;
	struct stat st;
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return err_set(e, MB_EAUTH, "cannot open key file '%s': %s",
			       path, strerror(errno));
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return err_set(e, MB_EAUTH, "key file '%s' is a directory",
			       path);
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & 077))
		warning("key file '%s' is readable by others; chmod 600 it",
			path);
	n = fread(text, 1, sizeof(text), f);
	if (ferror(f))
		rc = err_set(e, MB_EAUTH, "cannot read key file '%s': %s",
			     path, strerror(errno));
	else if (n == sizeof(text))
		rc = err_set(e, MB_EAUTH, "key file '%s' is too long to hold"
			     " an API key alone", path);
	else
		buf_set(key, text, n);
	fclose(f);
	memset(text, 0, sizeof(text));
	return rc;
}

/*
 * The API key: MEISA_API_KEY, or the --api-key-file.  Never an argument: it
 * would show in ps and in shell history.
 */
static enum mb_rc read_key(const struct options *o, struct buf *key,
			   struct err *e)
{
	const char *env = getenv("MEISA_API_KEY");
	enum mb_rc rc = MB_OK;
	char from[PATH_MAX + 16];

	snprintf(from, sizeof(from), "MEISA_API_KEY");
	if (o->api_key_file) {
		snprintf(from, sizeof(from), "key file '%s'", o->api_key_file);
		rc = read_key_file(o->api_key_file, key, e);
	} else if (env) {
		buf_set(key, env, strlen(env));
	}
	return rc == MB_OK ? clean_key(key, from, e) : rc;
}

/* Loopback: 127.0.0.0/8, ::1 and localhost ("host" or "host:port"). */
static int is_loopback(const char *host, size_t len)
{
	size_t i;

	if (len >= 5 && !strncmp(host, "[::1]", 5))
		return len == 5 || host[5] == ':';
	len = strcspn(host, ":") < len ? strcspn(host, ":") : len;
	if (len == 9 && !strncasecmp(host, "localhost", 9))
		return 1;
	if (len < 4 || strncmp(host, "127.", 4))
		return 0;
	for (i = 4; i < len; i++)
		if (!strchr("0123456789.", host[i]))
			return 0;
	return 1;
}

/* The key in the clear to another machine: say so, even with -q. */
static void warn_plain_http(const char *url)
{
	char *shown = http_url_shown(url);
	const char *host = shown + 7;
	size_t len = strcspn(host, "/?#");

	if (!strncasecmp(shown, "http://", 7) && !is_loopback(host, len))
		fprintf(stderr, "%s: warning: MEISA_BASE_URL is plain http://"
			" to '%.*s': the API key travels unencrypted; use"
			" https://\n", progname, (int)len, host);
	free(shown);
}

static int64_t env_ms(const char *name, int64_t scale, int64_t fallback)
{
	const char *v = getenv(name);
	char *end;
	double d;

	if (!v || !*v)
		return fallback;
	d = strtod(v, &end);
	if (*end || d < 0)
		return fallback;
	return (int64_t)(d * (double)scale);
}

/* A one-shot call (ping, pre-flight, a chunk) must wait before sending. */
static void on_wait(void *ctx, int64_t wait_ms, const char *why)
{
	char d[32];

	(void)ctx;
	giveup_duration(wait_ms, d, sizeof(d));
	info("waiting %s for %s", d, why);
}

/* -v: a short line per request answered. */
static void on_answer(void *ctx, const struct http_request *req)
{
	char line[512];

	(void)ctx;
	trace_summary(req, line, sizeof(line));
	info("%s", line);
}

static void on_api_warning(void *ctx, const char *msg)
{
	(void)ctx;
	warning("%s; the trace stops here", msg);
}

static void fill_api_opts(const struct options *o, const struct buf *key,
			  struct meisa_opts *api)
{
	const char *base = getenv("MEISA_BASE_URL");

	*api = (struct meisa_opts)MEISA_OPTS_INIT;
	api->base_url = base && *base ? base : MEISA_DEFAULT_BASE_URL;
	warn_plain_http(api->base_url);
	api->api_key = key->data;
	api->insecure = o->insecure;
	api->rate = o->rate;
	api->concurrency = (size_t)(o->concurrency > 0 ? o->concurrency : 4);
	/* Knobs for rehearsals and tests; documented in the README. */
	api->give_up_ms = env_ms("MEISA_BULK_GIVE_UP_SECONDS", 1000, 300000);
	api->backoff_base_ms = env_ms("MEISA_BULK_BACKOFF_MS", 1, 500);
	api->backoff_cap_ms = env_ms("MEISA_BULK_BACKOFF_CAP_MS", 1, 30000);
	api->stop = &stop_requested;
	api->resumed = &resumes;
	api->on_wait = on_wait;
	api->trace_path = o->trace;
	api->trace_bodies = o->trace_bodies;
	api->on_answer = verbose ? on_answer : NULL;
	api->on_warning = on_api_warning;
	/* Not through warning(): -q must not hide this one. */
	if (o->insecure)
		fprintf(stderr, "%s: warning: --insecure: TLS certificates are"
			" NOT verified; anyone on the network path can read"
			" the API key\n", progname);
}

static void format_duration(int64_t ms, char *out, size_t size)
{
	int64_t s = (ms + 999) / 1000;

	if (s < 60)
		snprintf(out, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, size, "%lldm%02llds", (long long)(s / 60),
			 (long long)(s % 60));
	else if (s < 86400 * 2)
		snprintf(out, size, "%lldh%02lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	else
		snprintf(out, size, "%lldd%02lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
}

/* ---- stage -------------------------------------------------------------- */

/*
 * -v: what each file of this run turned out to be.  The files are staged
 * already: a failure to list them is a warning, not the run's outcome.
 */
static void print_inputs(struct db *db, int64_t run)
{
	struct store_runs_lines l = STORE_RUNS_LINES_INIT;
	struct err e = ERR_INIT;
	const char *line;
	enum mb_rc rc;

	rc = store_runs_inputs_open(&l, db, run, &e);
	while (rc == MB_OK && (rc = store_runs_lines_next(&l, &line, &e)) ==
	       MB_OK && line)
		info("staged %s", line);
	if (rc != MB_OK)
		warning("%s", e.msg);
	store_runs_lines_close(&l);
}

static enum mb_rc do_stage(struct options *o, struct db *db, int64_t run,
			   struct stage_counts *counts, struct err *e)
{
	struct stage_opts so;
	enum mb_rc rc;

	memset(&so, 0, sizeof(so));
	so.run_id = run;
	so.map.preset = o->preset ? o->preset : "auto";
	so.map.overrides = o->overrides;
	so.map.noverrides = o->noverrides;
	so.map.tags = o->tags;
	so.map.ntags = o->ntags;
	so.delimiter = o->delimiter;
	so.encoding = o->encoding;
	so.source = o->source ? o->source : "import";
	so.warn = on_stage_warning;
	so.stop = &stop_requested;
	/* A closed terminal stops staging as SIGTERM does (rolled back). */
	signal(SIGHUP, on_signal);
	rc = stage_files(db, &so, (const char *const *)o->args,
			 (size_t)o->nargs, counts, e);
	if (rc == MB_ESTOPPED && stop_requested)
		err_prefix(e, "stopped by a signal");
	if (verbose && (rc == MB_OK || rc == MB_EDATA))
		print_inputs(db, run);
	return rc;
}

static void print_status_text(const struct status_counts *c)
{
	printf("generation     %lld\n", (long long)c->generation);
	printf("rows read      %lld\n", (long long)c->rows_read);
	printf("rejected       %lld\n", (long long)c->rejected);
	printf("duplicates     %lld\n", (long long)c->duplicates);
	printf("contacts       %lld\n", (long long)c->contacts);
	printf("  upserted     %lld  (%lld unchanged since an earlier"
	       " generation)\n", (long long)c->upserted,
	       (long long)c->unchanged);
	printf("  pending      %lld\n", (long long)c->pending);
	printf("  skipped      %lld  (do-not-email or unconfirmed at the"
	       " source)\n",
	       (long long)c->skipped);
	printf("  failed       %lld\n", (long long)c->failed);
	printf("suppressed     %lld\n", (long long)c->suppressed);
	printf("unconfirmed    %lld\n", (long long)c->unconfirmed);
	printf("enrolled       %lld\n", (long long)c->enrolled);
	if (c->enroll_unknown)
		printf("enroll unknown %lld  (no or an unknown status from"
		       " bulk-enroll: export results)\n",
		       (long long)c->enroll_unknown);
	printf("missing        %lld  (in the previous generation only:"
	       " export missing)\n", (long long)c->missing);
	printf("cleared fields %lld  (emptied at the source, still in"
	       " Meisa: export results)\n", (long long)c->cleared_fields);
	printf("requests       %lld\n", (long long)c->requests);
}

/* Why missing is 0 for a generation read only up to damage (guard.h). */
static void print_missing_unknown(struct db *db, int64_t gen)
{
	struct buf reason = BUF_INIT;
	struct err e = ERR_INIT;

	if (guard_missing_unknown(db, gen, &reason, &e) != MB_OK)
		warning("%s", e.msg);
	else if (reason.len)
		printf("  missing unknown: %s\n", reason.data);
	buf_release(&reason);
}

/* The counts of a run's summary (run history), as JSON into out. */
static void counts_json(const struct status_counts *c, struct buf *out)
{
	buf_printf(out, "{\"generation\":%lld,\"rows_read\":%lld,"
		   "\"rejected\":%lld,\"duplicates\":%lld,\"contacts\":%lld,"
		   "\"upserted\":%lld,\"unchanged\":%lld,\"pending\":%lld,"
		   "\"skipped\":%lld,\"failed\":%lld,\"suppressed\":%lld,"
		   "\"enrolled\":%lld,\"missing\":%lld,"
		   "\"cleared_fields_not_sent\":%lld,\"requests\":%lld,"
		   "\"enroll_unknown\":%lld}",
		   (long long)c->generation, (long long)c->rows_read,
		   (long long)c->rejected, (long long)c->duplicates,
		   (long long)c->contacts, (long long)c->upserted,
		   (long long)c->unchanged, (long long)c->pending,
		   (long long)c->skipped, (long long)c->failed,
		   (long long)c->suppressed, (long long)c->enrolled,
		   (long long)c->missing, (long long)c->cleared_fields,
		   (long long)c->requests, (long long)c->enroll_unknown);
}

static void stage_json(const struct stage_counts *sc, struct buf *out)
{
	buf_printf(out, "{\"generation\":%lld,\"new_generation\":%s,"
		   "\"files_staged\":%llu,\"files_skipped\":%llu,"
		   "\"files_failed\":%llu,\"rows_read\":%llu,"
		   "\"rejected\":%llu,\"duplicates\":%llu,"
		   "\"contacts_new\":%llu,\"contacts_updated\":%llu,"
		   "\"files_incomplete\":%llu}",
		   (long long)sc->generation,
		   sc->new_generation ? "true" : "false",
		   (unsigned long long)sc->files_staged,
		   (unsigned long long)sc->files_skipped,
		   (unsigned long long)sc->files_failed,
		   (unsigned long long)sc->rows_read,
		   (unsigned long long)sc->rejected,
		   (unsigned long long)sc->duplicates,
		   (unsigned long long)sc->contacts_new,
		   (unsigned long long)sc->contacts_updated,
		   (unsigned long long)sc->files_incomplete);
}

/*
 * Record the end of a run: its exit status and a summary of what it did
 * ({"stage": ..., "push": ...}, either may be NULL) and of the staging
 * file's counts after it, which are also left in *c (c->generation < 0
 * when they could not be read) for the summary printed next: counting
 * scans every contact, so it is done once.
 */
static void end_run(struct db *db, int64_t run, enum mb_rc rc,
		    const char *stage, const char *push,
		    struct status_counts *c)
{
	struct err ignored = ERR_INIT;
	struct buf summary = BUF_INIT, counts = BUF_INIT;

	c->generation = -1;
	/* No run began: the staging file may not even be open. */
	if (!run)
		return;
	if (status_load(db, c, &ignored) == MB_OK)
		counts_json(c, &counts);
	else
		c->generation = -1;
	buf_printf(&summary, "{\"stage\":%s,\"push\":%s,\"status\":%s}",
		   stage ? stage : "null", push ? push : "null",
		   counts.len ? counts.data : "null");
	store_runs_end(db, run, mb_exit_code(rc), summary.data);
	buf_release(&summary);
	buf_release(&counts);
}

/*
 * The members of extra (a JSON object) appended to the object in json.
 * Both are ours, written without spaces and sharing no member (the status
 * object's counts, this run's counts), so the merge is an append.
 */
static enum mb_rc add_members(struct buf *json, const char *extra,
			      struct err *e)
{
	enum mb_rc rc = MB_OK;

	if (json->len < 2 || json->data[json->len - 1] != '}' ||
	    extra[0] != '{')
		return err_set(e, MB_EINTERNAL, "cannot merge '%s' into the"
			       " status object", extra);
	if (strcmp(extra, "{}") == 0)
		return MB_OK;
	json->data[--json->len] = '\0';
	if (json->len > 1)
		rc = buf_addch(json, ',');
	if (rc == MB_OK)
		rc = buf_addstr(json, extra + 1);
	return rc;
}

/*
 * Status as text or JSON; extra (a JSON object or NULL) is merged in.
 * known: the counts when the caller has them (see end_run), else NULL.
 */
static enum mb_rc print_summary(struct options *o, struct db *db,
				const struct status_counts *known,
				const char *extra, struct err *e)
{
	struct status_counts c;
	struct buf json = BUF_INIT;
	enum mb_rc rc = MB_OK;

	if (known && known->generation >= 0)
		c = *known;
	else
		rc = status_load(db, &c, e);
	if (rc != MB_OK)
		return rc;
	if (!o->json) {
		print_status_text(&c);
		print_missing_unknown(db, c.generation);
		return MB_OK;
	}
	rc = status_json_of(db, &c, &json, e);
	if (rc == MB_OK && extra)
		rc = add_members(&json, extra, e);
	if (rc == MB_OK)
		printf("%s\n", json.data);
	buf_release(&json);
	return rc;
}

static int cmd_stage(struct options *o)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct stage_counts counts;
	struct status_counts after;
	struct buf summary = BUF_INIT, extra = BUF_INIT;
	char *args = joined_args(saved_argc, saved_argv);
	int64_t run = 0;
	enum mb_rc rc, prc;

	memset(&counts, 0, sizeof(counts));
	rc = open_db(o, DB_CREATE, &db, &e);
	if (rc == MB_OK)
		rc = store_runs_begin(&db, "stage", args, &run, &e);
	if (rc == MB_OK)
		rc = do_stage(o, &db, run, &counts, &e);
	stage_json(&counts, &summary);
	end_run(&db, run, rc, summary.data, NULL, &after);
	/* What this run did; the counts are the generation's (status). */
	buf_printf(&extra, "{\"files_staged\":%llu,\"files_skipped\":%llu,"
		   "\"files_failed\":%llu,\"contacts_new\":%llu,"
		   "\"contacts_updated\":%llu,\"new_generation\":%s}",
		   (unsigned long long)counts.files_staged,
		   (unsigned long long)counts.files_skipped,
		   (unsigned long long)counts.files_failed,
		   (unsigned long long)counts.contacts_new,
		   (unsigned long long)counts.contacts_updated,
		   counts.new_generation ? "true" : "false");
	if (rc == MB_OK || rc == MB_EDATA) {
		prc = print_summary(o, &db, &after, extra.data, &e);
		if (rc == MB_OK)
			rc = prc;
	}
	db_close(&db);
	buf_release(&summary);
	buf_release(&extra);
	free(args);
	return rc == MB_OK ? 0 : fail(rc, &e);
}

/* ---- push --------------------------------------------------------------- */

struct progress_state {
	int64_t last_ms;
	int tty;
	int64_t last_done;
	int64_t last_wait_ms;    /* when -v last said it waits */
	/* --metrics-file during the push */
	struct db *db;
	const char *metrics_file;
	int64_t metrics_ms;      /* elapsed_ms of the last write; -1: none */
	int64_t metrics_every;   /* ms between writes */
};

/*
 * --metrics-file from the status of db (status.h); live: the push still
 * running.  A failure is a warning, said once: monitoring never fails a
 * run.
 */
static void write_metrics(struct db *db, const char *path,
			  const struct metrics_live *live)
{
	static int warned;
	struct buf json = BUF_INIT, text = BUF_INIT;
	struct err e = ERR_INIT;
	enum mb_rc rc;

	rc = status_json(db, &json, &e);
	if (rc == MB_OK)
		rc = metrics_format(json.data, live, &text, &e);
	if (rc == MB_OK)
		rc = metrics_write(path, &text, &e);
	if (rc != MB_OK && !warned++)
		warning("cannot write metrics file '%s': %s", path,
			e.msg[0] ? e.msg : mb_strerror(rc));
	buf_release(&json);
	buf_release(&text);
}

/*
 * During a push: at once, then every 5 s, or less often on a staging file
 * so large that counting it takes more than a twentieth of that.
 */
static void push_metrics(struct progress_state *ps,
			 const struct push_progress *p)
{
	struct metrics_live live = { p->retries, p->throttled };
	int64_t t0;

	if (!ps->metrics_file || (ps->metrics_ms >= 0 &&
	    p->elapsed_ms - ps->metrics_ms < ps->metrics_every))
		return;
	t0 = db_now_ms();
	write_metrics(ps->db, ps->metrics_file, &live);
	ps->metrics_ms = p->elapsed_ms;
	ps->metrics_every = 20 * (db_now_ms() - t0);
	if (ps->metrics_every < 5000)
		ps->metrics_every = 5000;
}

/* "  waiting 41m for the 1000/h window", or "" when not waiting. */
static void waiting_text(const struct push_progress *p, char *out,
			 size_t size)
{
	char d[32];

	out[0] = '\0';
	if (p->wait_ms < 1000)
		return;
	giveup_duration(p->wait_ms, d, sizeof(d));
	snprintf(out, size, "  waiting %s for %s", d, p->wait_why);
}

/* -v: a line on stderr while the run waits, at most once a minute. */
static void say_waiting(struct progress_state *ps,
			const struct push_progress *p)
{
	char d[32];

	if (!verbose || p->wait_ms < 1000 || (ps->last_wait_ms &&
	    p->elapsed_ms - ps->last_wait_ms < 60000))
		return;
	ps->last_wait_ms = p->elapsed_ms;
	giveup_duration(p->wait_ms, d, sizeof(d));
	fprintf(stderr, "%s%s: waiting %s for %s\n", ps->tty ? "\r\033[K" :
		"", progname, d, p->wait_why);
}

/*
 * Without a terminal (cron): a line every 5 s while contacts move, at most
 * one a minute while nothing does (a run waiting for its hour window).
 */
static int progress_due(const struct progress_state *ps,
			const struct push_progress *p)
{
	int64_t every = p->done == ps->last_done ? 60000 : 5000;

	return ps->tty || p->done == p->total ||
		p->elapsed_ms - ps->last_ms >= every;
}

static void on_progress(void *ctx, const struct push_progress *p)
{
	struct progress_state *ps = ctx;
	double rate = p->elapsed_ms > 0 ? (double)p->requests * 1000.0 /
		(double)p->elapsed_ms : 0;
	char eta[32] = "-", wait[96];

	push_metrics(ps, p);
	if (quiet)
		return;
	say_waiting(ps, p);
	if (!progress_due(ps, p))
		return;
	ps->last_ms = p->elapsed_ms;
	ps->last_done = p->done;
	/* Every window of --rate counts (1,200 at the defaults: about 1 h). */
	if (p->eta_ms >= 0 && p->total > p->done)
		format_duration(p->eta_ms, eta, sizeof(eta));
	else if (rate > 0 && p->total > p->done)
		format_duration((int64_t)((double)(p->total - p->done) /
				rate * 1000.0), eta, sizeof(eta));
	waiting_text(p, wait, sizeof(wait));
	if (strcmp(p->phase, "enroll") == 0)
		fprintf(stderr, "%senroll: %lld chunks sent, %lld failed%s",
			ps->tty ? "\r\033[K" : "", (long long)p->done,
			(long long)p->failed, ps->tty ? "" : "\n");
	else
		fprintf(stderr, "%supsert: %lld/%lld (%.0f%%)  %.1f req/s  "
			"ETA %s  retries %llu  429s %llu  failed %lld%s%s",
			ps->tty ? "\r\033[K" : "", (long long)p->done,
			(long long)p->total, p->total ? 100.0 *
			(double)p->done / (double)p->total : 100.0, rate, eta,
			(unsigned long long)p->retries,
			(unsigned long long)p->throttled, (long long)p->failed,
			wait, ps->tty ? "" : "\n");
	fflush(stderr);
}

static void print_plan(const struct options *o, const struct push_plan *pl)
{
	char eta[32];

	if (quiet)
		return;
	format_duration(pl->estimate_ms, eta, sizeof(eta));
	info("key: %s environment, scopes %s", pl->environment,
	     pl->scopes.len ? pl->scopes.data : "(none listed)");
	info("Meisa's unsubscribed list: %lld of the staged contacts (as of"
	     " %s)", (long long)pl->meisa_unsubscribed,
	     pl->as_of.len ? pl->as_of.data : "unknown");
	info("plan: %lld to upsert, %lld skipped (do-not-email or"
	     " unconfirmed at the source), %lld suppressed, %lld to enroll in '%s'",
	     (long long)pl->to_upsert, (long long)pl->skipped,
	     (long long)pl->suppressed, (long long)pl->to_enroll,
	     o->sequence ? o->sequence : "(no sequence)");
	if (pl->unchanged)
		info("      %lld unchanged since Meisa acknowledged them: not"
		     " sent (--full sends them too)", (long long)pl->unchanged);
	if (pl->failed)
		info(o->retry_failed ? "      %lld failed in an earlier run:"
		     " sent again (--retry-failed)" : "      %lld failed in an"
		     " earlier run: not sent (--retry-failed sends them again)",
		     (long long)pl->failed);
	if (pl->unconfirmed)
		info(o->include_unconfirmed ? "      %lld unconfirmed (never"
		     " subscribed or pending): created (--include-unconfirmed);"
		     " each receives Meisa's contact_created automations" :
		     "      %lld unconfirmed (never subscribed or pending):"
		     " skipped (--include-unconfirmed creates them)",
		     (long long)pl->unconfirmed);
	info("      %lld requests, about %s at --rate %s",
	     (long long)pl->requests, eta, o->rate ? o->rate : "60/m,1000/h");
}

/* With a live key on a terminal, ask before the first write. */
static int confirmed(const struct options *o, const struct push_plan *pl)
{
	char answer[16];

	if (o->yes || strcmp(pl->environment, "live") != 0 ||
	    !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return 1;
	fprintf(stderr, "This is a LIVE key: each new contact fires Meisa's"
		" contact_created automations\n(onboarding emails, for"
		" example). Send %lld requests now? [y/N] ",
		(long long)pl->requests);
	if (!fgets(answer, sizeof(answer), stdin))
		return 0;
	return answer[0] == 'y' || answer[0] == 'Y';
}

static enum mb_rc do_push(struct options *o, struct db *db,
			  struct push_result *res, struct err *e)
{
	struct buf key = BUF_INIT;
	struct push_opts po;
	struct push p;
	struct push_plan plan;
	struct progress_state ps = { 0, stderr_tty, -1, 0, NULL, NULL, -1, 0 };
	enum mb_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&po, 0, sizeof(po));
	push_plan_init(&plan);
	rc = read_key(o, &key, e);
	if (rc != MB_OK)
		goto out;
	fill_api_opts(o, &key, &po.api);
	po.sequence = o->sequence;
	po.max_requests = o->max_requests;
	po.full = o->full;
	po.retry_failed = o->retry_failed;
	po.include_unconfirmed = o->include_unconfirmed;
	po.guard = o->guard;
	po.progress = on_progress;
	ps.db = db;
	ps.metrics_file = o->metrics_file;
	po.ctx = &ps;
	rc = push_open(&p, db, &po, e);
	if (rc == MB_OK)
		rc = push_preflight(&p, &plan, e);
	if (rc == MB_OK)
		print_plan(o, &plan);
	if (rc == MB_OK && o->dry_run) {
		info("dry run: nothing was written");
	} else if (rc == MB_OK && !confirmed(o, &plan)) {
		rc = err_set(e, MB_ESTOPPED, "not confirmed: nothing was sent");
	} else if (rc == MB_OK) {
		rc = push_run(&p, res, e);
		if (ps.tty && !quiet)
			fputc('\n', stderr);
	}
	res->requests = meisa_requests(p.api);
	push_close(&p);
out:
	if (key.data)
		memset(key.data, 0, key.len);
	buf_release(&key);
	push_plan_release(&plan);
	return rc;
}

/* The command as typed, the ping URL (a secret) masked. */
static void resume_hint(const struct options *o, enum mb_rc rc)
{
	char *args;

	if (rc != MB_ESTOPPED && rc != MB_EUNAVAILABLE)
		return;
	args = joined_args(saved_argc, saved_argv);
	fprintf(stderr, "%s: progress is saved in '%s'; to resume, run:\n"
		"  %s\n", progname, o->db_path, args ? args : "");
	free(args);
}

static int finish_push(struct options *o, struct db *db, int64_t run,
		       enum mb_rc rc, const struct push_result *res,
		       const char *stage, struct err *e)
{
	char extra[512], push[600];
	struct err e2 = ERR_INIT;
	struct status_counts after;

	snprintf(extra, sizeof(extra), "{\"run\":{\"requests\":%llu,"
		 "\"retries\":%llu,\"throttled\":%llu,\"chunks\":%lld,"
		 "\"elapsed_ms\":%lld,\"exit_status\":%d}}",
		 (unsigned long long)res->requests,
		 (unsigned long long)res->retries,
		 (unsigned long long)res->throttled, (long long)res->chunks,
		 (long long)res->elapsed_ms, mb_exit_code(rc));
	snprintf(push, sizeof(push), "{\"requests\":%llu,\"retries\":%llu,"
		 "\"throttled\":%llu,\"upserted\":%lld,\"failed\":%lld,"
		 "\"chunks\":%lld,\"enroll_failed\":%lld,"
		 "\"enroll_unknown\":%lld,\"elapsed_ms\":%lld,\"full\":%s,"
		 "\"retry_failed\":%s,\"include_unconfirmed\":%s,"
		 "\"dry_run\":%s}",
		 (unsigned long long)res->requests,
		 (unsigned long long)res->retries,
		 (unsigned long long)res->throttled, (long long)res->upserted,
		 (long long)res->failed, (long long)res->chunks,
		 (long long)res->enroll_failed,
		 (long long)res->enroll_unknown, (long long)res->elapsed_ms,
		 o->full ? "true" : "false",
		 o->retry_failed ? "true" : "false",
		 o->include_unconfirmed ? "true" : "false",
		 o->dry_run ? "true" : "false");
	end_run(db, run, rc, stage, push, &after);
	if (rc != MB_EAUTH && rc != MB_EDB && rc != MB_ELOCKED)
		print_summary(o, db, &after, extra, &e2);
	resume_hint(o, rc);
	if (rc == MB_OK)
		return 0;
	if (rc == MB_ESTOPPED && stop_requested)
		err_prefix(e, "stopped by a signal");
	return fail(rc, e);
}

static int cmd_push(struct options *o)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct push_result res;
	char *args = joined_args(saved_argc, saved_argv);
	int64_t run = 0;
	enum mb_rc rc;
	int status;

	memset(&res, 0, sizeof(res));
	rc = open_db(o, DB_EXISTING, &db, &e);
	if (rc != MB_OK) {
		status = fail(rc, &e);
		goto out;
	}
	rc = store_runs_begin(&db, "push", args, &run, &e);
	if (rc == MB_OK)
		rc = do_push(o, &db, &res, &e);
	status = finish_push(o, &db, run, rc, &res, NULL, &e);
out:
	db_close(&db);
	free(args);
	return status;
}

/* import's first half: what staging did, on stderr. */
static void say_staged(const struct stage_counts *counts)
{
	info("staged %llu files (%llu already staged) into generation"
	     " %lld%s: %llu rows, %llu new contacts, %llu updated,"
	     " %llu rejected, %llu duplicates",
	     (unsigned long long)counts->files_staged,
	     (unsigned long long)counts->files_skipped,
	     (long long)counts->generation,
	     counts->new_generation ? " (new)" : "",
	     (unsigned long long)counts->rows_read,
	     (unsigned long long)counts->contacts_new,
	     (unsigned long long)counts->contacts_updated,
	     (unsigned long long)counts->rejected,
	     (unsigned long long)counts->duplicates);
}

/*
 * Staging met damage (and nothing worse): stop before anything is sent,
 * unless --allow-partial, which pushes the rows read (push's guard lets
 * the incomplete generation through then).
 */
static enum mb_rc import_partial(const struct options *o,
				 const struct stage_counts *counts,
				 enum mb_rc rc, struct err *e)
{
	if (rc != MB_EDATA || !counts->files_incomplete ||
	    counts->files_failed)
		return rc;
	if (!o->guard.allow_partial) {
		err_prefix(e, "nothing was sent (--allow-partial pushes the"
			   " rows read)");
		return rc;
	}
	warning("%s; pushing the rows read (--allow-partial)", e->msg);
	return MB_OK;
}

static int cmd_import(struct options *o)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	struct stage_counts counts;
	struct status_counts after;
	struct push_result res;
	struct buf stage = BUF_INIT;
	char *args = joined_args(saved_argc, saved_argv);
	int64_t run = 0;
	enum mb_rc rc;
	int status;

	memset(&res, 0, sizeof(res));
	memset(&counts, 0, sizeof(counts));
	rc = open_db(o, DB_CREATE, &db, &e);
	if (rc != MB_OK) {
		status = fail(rc, &e);
		goto out;
	}
	rc = store_runs_begin(&db, "import", args, &run, &e);
	if (rc == MB_OK)
		rc = do_stage(o, &db, run, &counts, &e);
	rc = import_partial(o, &counts, rc, &e);
	stage_json(&counts, &stage);
	if (rc != MB_OK) {
		end_run(&db, run, rc, stage.data, NULL, &after);
		status = fail(rc, &e);
		goto out;
	}
	say_staged(&counts);
	rc = do_push(o, &db, &res, &e);
	status = finish_push(o, &db, run, rc, &res, stage.data, &e);
out:
	db_close(&db);
	buf_release(&stage);
	free(args);
	return status;
}

/* ---- status, export ----------------------------------------------------- */

static enum mb_rc print_runs(struct options *o, struct db *db, struct err *e)
{
	struct store_runs_lines l = STORE_RUNS_LINES_INIT;
	struct buf json = BUF_INIT;
	const char *line;
	enum mb_rc rc;

	if (o->json) {
		rc = status_runs_json(db, &json, e);
		if (rc == MB_OK)
			printf("%s\n", json.len ? json.data : "[]");
		buf_release(&json);
		return rc;
	}
	rc = store_runs_history_open(&l, db, e);
	if (rc == MB_OK)
		printf("%-4s %-7s %-24s %-24s %-5s %s\n", "run", "kind",
		       "started", "ended", "exit", "command");
	while (rc == MB_OK && (rc = store_runs_lines_next(&l, &line, e)) ==
	       MB_OK && line)
		printf("%s\n", line);
	store_runs_lines_close(&l);
	return rc;
}

static int cmd_status(struct options *o)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	enum mb_rc rc;

	rc = open_db_to_read(o, &db, &e);
	if (rc == MB_OK)
		rc = o->runs ? print_runs(o, &db, &e) :
			print_summary(o, &db, NULL, NULL, &e);
	db_close(&db);
	return rc == MB_OK ? 0 : fail(rc, &e);
}

static enum mb_rc export_unsubscribed(struct options *o, uint64_t *rows,
				      struct err *e)
{
	struct buf key = BUF_INIT, raw = BUF_INIT;
	struct meisa_strings emails = MEISA_STRINGS_INIT;
	struct meisa *m = NULL;
	struct meisa_opts mo;
	enum mb_rc rc;

	rc = read_key(o, &key, e);
	if (rc != MB_OK)
		goto out;
	fill_api_opts(o, &key, &mo);
	rc = meisa_open(&m, &mo, e);
	if (rc == MB_OK)
		rc = meisa_unsubscribed(m, &raw, e);
	if (rc == MB_OK)
		rc = meisa_unsubscribed_emails(m, buf_str(&raw), &emails,
					       e);
	if (rc == MB_OK)
		rc = export_emails(o->db_path, o->output,
				   (const char *const *)emails.items,
				   emails.count, e);
	if (rc == MB_OK)
		*rows = emails.count;
out:
	meisa_close(m);
	meisa_strings_release(&emails);
	buf_release(&raw);
	if (key.data)
		memset(key.data, 0, key.len);
	buf_release(&key);
	return rc;
}

/*
 * Standard output is a pipe (or socket) its reader closed: `| head` has
 * read what it wanted.  Linux reports POLLERR on such a write end.
 */
static int stdout_reader_gone(void)
{
	struct pollfd pfd = { STDOUT_FILENO, POLLOUT, 0 };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR);
}

static int cmd_export(struct options *o)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	uint64_t rows = 0;
	enum mb_rc rc;

	if (o->nargs != 1 || !o->output) {
		rc = err_set(&e, MB_EUSAGE, "usage: meisa-bulk export rejects|"
			     "results|suppressed|missing|unsubscribed -o FILE");
		goto out;
	}
	if (strcmp(o->args[0], "unsubscribed") == 0) {
		rc = export_unsubscribed(o, &rows, &e);
	} else {
		rc = open_db_to_read(o, &db, &e);
		if (rc == MB_OK)
			rc = export_table(&db, o->args[0], o->output, &rows,
					  &e);
	}
	/* `export ... -o - | head`: the reader has what it wanted. */
	if (rc == MB_EIO && strcmp(o->output, "-") == 0 &&
	    stdout_reader_gone())
		rc = MB_OK;
	if (rc != MB_OK)
		goto out;
	if (o->json)
		printf("{\"export\":\"%s\",\"rows\":%llu}\n", o->args[0],
		       (unsigned long long)rows);
	else if (strcmp(o->output, "-") != 0)
		info("wrote %llu rows to '%s'", (unsigned long long)rows,
		     o->output);
out:
	db_close(&db);
	return rc == MB_OK ? 0 : fail(rc, &e);
}

static int cmd_report(struct options *o)
{
	struct report_opts ro = REPORT_OPTS_INIT;
	struct db db = DB_INIT;
	struct err e = ERR_INIT;
	enum mb_rc rc;

	if (!o->output) {
		error("usage: meisa-bulk report -o FILE.html (- for standard"
		      " output)");
		return mb_exit_code(MB_EUSAGE);
	}
	ro.no_examples = o->no_examples;
	ro.version = MB_VERSION;
	rc = open_db_to_read(o, &db, &e);
	if (rc == MB_OK)
		rc = report_write(&db, o->output, &ro, &e);
	db_close(&db);
	if (rc != MB_OK)
		return fail(rc, &e);
	if (strcmp(o->output, "-") != 0)
		info("wrote the report to '%s'", o->output);
	return 0;
}

/* ---- ping, sequences ---------------------------------------------------- */

static int with_api(struct options *o,
		    enum mb_rc (*fn)(struct options *, struct meisa *,
				     struct err *))
{
	struct buf key = BUF_INIT;
	struct err e = ERR_INIT;
	struct meisa *m = NULL;
	struct meisa_opts mo;
	enum mb_rc rc;

	rc = read_key(o, &key, &e);
	if (rc == MB_OK) {
		fill_api_opts(o, &key, &mo);
		rc = meisa_open(&m, &mo, &e);
		if (rc == MB_OK)
			rc = fn(o, m, &e);
		meisa_close(m);
	}
	if (key.data)
		memset(key.data, 0, key.len);
	buf_release(&key);
	return rc == MB_OK ? 0 : fail(rc, &e);
}

/*
 * ping --json: every text in it is escaped, the server's (environment,
 * scopes) above all: a quote or a newline in an answer must not make the
 * line something else than the one object it is.
 */
static enum mb_rc print_ping_json(const struct meisa_key_info *ki,
				  const char *url)
{
	struct buf out = BUF_INIT;
	enum mb_rc rc;

	rc = buf_addstr(&out, "{\"environment\":");
	if (rc == MB_OK)
		rc = json_add_string(&out, ki->environment,
				     strlen(ki->environment));
	if (rc == MB_OK)
		rc = buf_addstr(&out, ",\"scopes\":");
	if (rc == MB_OK)
		rc = json_add_string(&out, buf_str(&ki->scopes),
				     ki->scopes.len);
	if (rc == MB_OK)
		rc = buf_addstr(&out, ",\"base_url\":");
	if (rc == MB_OK)
		rc = json_add_string(&out, url, strlen(url));
	if (rc == MB_OK)
		printf("%s}\n", out.data);
	buf_release(&out);
	return rc;
}

static enum mb_rc ping(struct options *o, struct meisa *m, struct err *e)
{
	struct meisa_key_info ki;
	const char *need[] = { "contacts:read", "contacts:write",
			       "sequences:read", "sequences:enroll" };
	char *url = http_url_shown(meisa_base_url(m));
	enum mb_rc rc;
	size_t i;

	buf_init(&ki.scopes, BUF_MAX_DEFAULT);
	rc = meisa_ping(m, &ki, e);
	if (rc == MB_OK && o->json) {
		if (print_ping_json(&ki, url) != MB_OK)
			rc = err_set(e, MB_ETOOBIG, "the key's scopes are too"
				     " long to print");
	} else if (rc == MB_OK) {
		printf("ok: %s key at %s\nscopes: %s\n", ki.environment,
		       url, ki.scopes.len ? ki.scopes.data : "(none)");
		for (i = 0; i < 4; i++)
			if (!meisa_has_scope(&ki, need[i]))
				warning("the key lacks %s (%s)", need[i], i < 2 ?
					"needed by push" : i == 3 ?
					"needed by --sequence" :
					"needed to check the sequence");
	}
	if (rc == MB_OK && (!meisa_has_scope(&ki, "contacts:write") ||
			    !meisa_has_scope(&ki, "contacts:read")))
		rc = err_set(e, MB_EAUTH, "the API key lacks %s, which push"
			     " needs", meisa_has_scope(&ki, "contacts:write") ?
			     "contacts:read" : "contacts:write");
	buf_release(&ki.scopes);
	free(url);
	return rc;
}

static int cmd_ping(struct options *o)
{
	return with_api(o, ping);
}

static enum mb_rc sequences(struct options *o, struct meisa *m,
			    struct err *e)
{
	struct meisa_sequence_list seqs = MEISA_SEQUENCE_LIST_INIT;
	struct buf list = BUF_INIT;
	enum mb_rc rc;
	size_t i;

	rc = meisa_sequences(m, o->search, &list, e);
	if (rc == MB_OK && o->json) {
		printf("%s\n", list.data);
		goto out;
	}
	if (rc == MB_OK)
		rc = meisa_sequence_list(m, buf_str(&list), &seqs, e);
	if (rc == MB_OK)
		printf("%-32s %-8s %s\n", "slug", "status", "name");
	for (i = 0; rc == MB_OK && i < seqs.count; i++)
		printf("%-32s %-8s %s\n", seqs.items[i].slug,
		       seqs.items[i].status, seqs.items[i].name);
out:
	meisa_sequence_list_release(&seqs);
	buf_release(&list);
	return rc;
}

static int cmd_sequences(struct options *o)
{
	return with_api(o, sequences);
}

/* ---- help, options, main ------------------------------------------------ */

static int cmd_help(struct options *o);

#define STAGE_OPTS \
	"  --preset NAME        provider format (default auto)\n" \
	"  --map COLUMN=FIELD   map a column: email, external_id, first_name,\n" \
	"                       last_name, display_name, tags, status, ignore,\n" \
	"                       custom:NAME (repeatable)\n" \
	"  --delimiter C        field delimiter (default: detected)\n" \
	"  --encoding NAME      charset of files without a byte order mark,\n" \
	"                       e.g. windows-1252 (default UTF-8)\n" \
	"  --tag NAME           add this tag to every contact (repeatable)\n" \
	"  --source S           import or initial_sync (default import)\n"
#define PUSH_OPTS \
	"  --sequence SLUG      bulk-enroll every upserted, unsuppressed contact\n" \
	"  --rate SPEC          client limits, e.g. 60/m,1000/h (default) or none\n" \
	"  --concurrency N      requests in flight (default 4)\n" \
	"  --max-requests N     stop cleanly after N requests (resume later)\n" \
	"  --full               also send contacts unchanged since Meisa\n" \
	"                       acknowledged them (by default only new and\n" \
	"                       changed contacts are sent)\n" \
	"  --retry-failed       also send again the contacts that failed\n" \
	"                       (4xx) in an earlier run, once the cause\n" \
	"                       is fixed\n" \
	"  --include-unconfirmed\n" \
	"                       also create never-subscribed and pending\n" \
	"                       contacts (skipped by default: creating them\n" \
	"                       fires contact_created automations)\n" \
	"  --max-missing N|N%|none  stop before the first write when more\n" \
	"                       of the previous night's contacts are\n" \
	"                       missing (default 10%)\n" \
	"  --allow-partial      push an input read only up to damage\n" \
	"                       (truncated gzip or zip member, cut CSV)\n" \
	"  --dry-run            pre-flight and plan only; nothing is written\n" \
	"  --yes                no confirmation prompt for a live key\n" \
	"  --api-key-file F     read the key from F instead of MEISA_API_KEY\n" \
	"  --insecure           do not verify TLS certificates (warns)\n" \
	"  --trace FILE         append a JSON line per HTTP request to FILE\n" \
	"  --trace-bodies       with --trace: the bodies too (never the key)\n"
#define METRICS_OPT \
	"  --metrics-file F     write the status as a Prometheus textfile\n" \
	"                       (node_exporter) at the end of the run, and\n" \
	"                       every 5 s during a push\n"
#define MONITOR_OPTS METRICS_OPT \
	"  --ping-url URL       GET URL/start, then URL on success or\n" \
	"                       URL/STATUS (healthchecks.io); never shown\n"
#define COMMON_OPTS \
	"  --db PATH            staging file (default ./meisa-bulk.db)\n" \
	"  --json               one JSON object on stdout\n" \
	"  -q                   only errors on stderr (for cron)\n" \
	"  -v                   also each file's preset, delimiter, counts,\n" \
	"                       and a line per request to Meisa\n"

static const struct cmd commands[] = {
	{ "import", cmd_import, OPT_DB | OPT_JSON | OPT_STAGE | OPT_PUSH |
	  OPT_KEY | OPT_METRICS | OPT_PING,
	  "usage: meisa-bulk import FILE... [options]\n\n"
	  "Stage FILEs, then push them. Running the same command again\n"
	  "resumes where it stopped. Run it every night with the new dump\n"
	  "and the same --db: only new and changed contacts are sent, and\n"
	  "'export missing' lists those that vanished since the last night.\n\n"
	  STAGE_OPTS PUSH_OPTS MONITOR_OPTS COMMON_OPTS
	  "\nexamples:\n  MEISA_API_KEY=... meisa-bulk import export.csv.gz"
	  " --sequence onboarding\n"
	  "  MEISA_API_KEY=... meisa-bulk import users.csv.gz --db sync.db"
	  " --yes   (nightly)\n" },
	{ "stage", cmd_stage, OPT_DB | OPT_JSON | OPT_STAGE | OPT_METRICS |
	  OPT_PING,
	  "usage: meisa-bulk stage FILE... [options]\n\n"
	  "Read, validate, normalise and deduplicate FILEs (CSV, gzip, or\n"
	  "a zip of CSVs such as Mailchimp's audience export)\n"
	  "into the staging file. No network. Files staged since the last\n"
	  "push form one generation; after a push, the next file starts a\n"
	  "new one (tomorrow's dump), whose rows replace the staged\n"
	  "contacts.\n\n"
	  STAGE_OPTS MONITOR_OPTS COMMON_OPTS
	  "\nexample:\n  meisa-bulk stage subscribed_members_export_1a2b.csv"
	  " --tag migrated-from-mailchimp\n" },
	{ "push", cmd_push, OPT_DB | OPT_JSON | OPT_PUSH | OPT_KEY |
	  OPT_METRICS | OPT_PING,
	  "usage: meisa-bulk push [options]\n\n"
	  "Check Meisa's unsubscribed list, upsert the staged contacts and\n"
	  "enroll them. Resumable.\n\n" PUSH_OPTS MONITOR_OPTS COMMON_OPTS
	  "\nexample:\n  meisa-bulk push --sequence onboarding --dry-run\n" },
	{ "status", cmd_status, OPT_DB | OPT_JSON | OPT_RUNS | OPT_METRICS,
	  "usage: meisa-bulk status [--json] [--runs] [--db PATH]\n\n"
	  "Counts and progress of the latest generation of a staging file,\n"
	  "with the last run; --runs lists every run with its input files.\n\n"
	  "  --runs               the run history\n"
	  METRICS_OPT COMMON_OPTS "\nexample:\n  meisa-bulk status --json\n" },
	{ "export", cmd_export, OPT_DB | OPT_JSON | OPT_OUTPUT | OPT_KEY,
	  "usage: meisa-bulk export rejects|results|suppressed|missing|"
	  "unsubscribed -o FILE\n\n"
	  "Write a CSV (gzip when FILE ends in .gz, - for stdout).\n"
	  "missing: contacts of the previous generation (last night) that\n"
	  "the latest one lacks; they are never deleted from Meisa.\n"
	  "results has a cleared_fields column: fields emptied at the source\n"
	  "that Meisa still holds (an upsert cannot clear them).\n"
	  "unsubscribed fetches Meisa's list now.\n\n"
	  "  -o, --output FILE    where to write\n" COMMON_OPTS
	  "\nexample:\n  meisa-bulk export rejects -o rejects.csv\n" },
	{ "report", cmd_report, OPT_DB | OPT_OUTPUT | OPT_REPORT,
	  "usage: meisa-bulk report -o FILE.html [--no-examples] [--db PATH]\n\n"
	  "Write one self-contained HTML page (no network, prints well) of\n"
	  "where the import stands: the funnel with the counts of status,\n"
	  "progress, pace and time left, rejects and failures with up to 10\n"
	  "examples each, input files and runs.\n\n"
	  "  -o, --output FILE    where to write (- for standard output)\n"
	  "  --no-examples        counts only: no address, line or cell\n"
	  "  --db PATH            staging file (default ./meisa-bulk.db)\n"
	  "  -q                   only errors on stderr (for cron)\n"
	  "  -h, --help           this help\n"
	  "\nexample:\n  meisa-bulk report -o import-report.html\n" },
	{ "ping", cmd_ping, OPT_JSON | OPT_KEY,
	  "usage: meisa-bulk ping [--json]\n\n"
	  "Verify the key: environment (live or test) and scopes.\n"
	  "\nexample:\n  MEISA_API_KEY=... meisa-bulk ping\n" },
	{ "sequences", cmd_sequences, OPT_JSON | OPT_KEY | OPT_SEARCH,
	  "usage: meisa-bulk sequences [--search TEXT] [--json]\n\n"
	  "List sequences and their slugs (for --sequence).\n"
	  "\nexample:\n  meisa-bulk sequences --search onboard\n" },
	{ "help", cmd_help, 0,
	  "usage: meisa-bulk help [COMMAND]\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cmd *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_overview(FILE *out)
{
	fprintf(out,
		"usage: meisa-bulk COMMAND [options]\n\n"
		"  import FILE...    stage, then push; re-running it resumes\n"
		"  stage FILE...     read, validate, deduplicate; no network\n"
		"  push              suppression check, upserts, enrollments\n"
		"  status            counts and progress of a staging file\n"
		"  export WHAT -o F  rejects | results | suppressed | missing |"
		" unsubscribed\n"
		"  report -o F.html  one HTML page: funnel, progress, problems\n"
		"  ping              verify the key: environment and scopes\n"
		"  sequences         list sequences and their slugs\n"
		"  help [COMMAND]    this, or a command's options\n\n"
		"environment: MEISA_API_KEY (the key), MEISA_BASE_URL\n"
		"'meisa-bulk help COMMAND' shows its options and an example.\n");
}

static int cmd_help(struct options *o)
{
	const struct cmd *c;

	if (!o->nargs) {
		print_overview(stdout);
		return 0;
	}
	c = find_command(o->args[0]);
	if (!c) {
		error("unknown command '%s'", o->args[0]);
		return mb_exit_code(MB_EUSAGE);
	}
	fputs(c->usage, stdout);
	return 0;
}

static void print_version(void)
{
	printf("meisa-bulk %s\n", MB_VERSION);
	printf("libcurl %s, SQLite %s, zlib %s, libcsv %d.%d.%d, libzip %s\n",
	       http_curl_version(), db_sqlite_version(), zlibVersion(),
	       CSV_MAJOR, CSV_MINOR, CSV_RELEASE, zip_libzip_version());
}

enum {
	LO_DB = 256, LO_JSON, LO_PRESET, LO_MAP, LO_DELIM, LO_TAG, LO_SOURCE,
	LO_SEQUENCE, LO_RATE, LO_CONC, LO_MAXREQ, LO_DRY, LO_YES, LO_KEYFILE,
	LO_INSECURE, LO_SEARCH, LO_RUNS, LO_VERSION, LO_FULL,
	LO_RETRY_FAILED, LO_NO_EXAMPLES, LO_METRICS_FILE, LO_PING_URL,
	LO_ENCODING, LO_INCLUDE_UNCONFIRMED,
	LO_TRACE, LO_TRACE_BODIES,
	LO_ALLOW_PARTIAL, LO_MAX_MISSING,
};

static const struct option long_options[] = {
	{ "db", required_argument, NULL, LO_DB },
	{ "json", no_argument, NULL, LO_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, LO_VERSION },
	{ "preset", required_argument, NULL, LO_PRESET },
	{ "map", required_argument, NULL, LO_MAP },
	{ "delimiter", required_argument, NULL, LO_DELIM },
	{ "encoding", required_argument, NULL, LO_ENCODING },
	{ "tag", required_argument, NULL, LO_TAG },
	{ "source", required_argument, NULL, LO_SOURCE },
	{ "sequence", required_argument, NULL, LO_SEQUENCE },
	{ "rate", required_argument, NULL, LO_RATE },
	{ "concurrency", required_argument, NULL, LO_CONC },
	{ "max-requests", required_argument, NULL, LO_MAXREQ },
	{ "dry-run", no_argument, NULL, LO_DRY },
	{ "full", no_argument, NULL, LO_FULL },
	{ "retry-failed", no_argument, NULL, LO_RETRY_FAILED },
	{ "include-unconfirmed", no_argument, NULL, LO_INCLUDE_UNCONFIRMED },
	{ "allow-partial", no_argument, NULL, LO_ALLOW_PARTIAL },
	{ "max-missing", required_argument, NULL, LO_MAX_MISSING },
	{ "yes", no_argument, NULL, LO_YES },
	{ "api-key-file", required_argument, NULL, LO_KEYFILE },
	{ "insecure", no_argument, NULL, LO_INSECURE },
	{ "output", required_argument, NULL, 'o' },
	{ "search", required_argument, NULL, LO_SEARCH },
	{ "runs", no_argument, NULL, LO_RUNS },
	{ "no-examples", no_argument, NULL, LO_NO_EXAMPLES },
	{ "metrics-file", required_argument, NULL, LO_METRICS_FILE },
	{ "ping-url", required_argument, NULL, LO_PING_URL },
	{ "trace", required_argument, NULL, LO_TRACE },
	{ "trace-bodies", no_argument, NULL, LO_TRACE_BODIES },
	{ NULL, 0, NULL, 0 },
};

/* Edit distance, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[64];

	if (lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = d[0], cur;

		d[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = d[j];
			d[j] = a[i - 1] == b[j - 1] ? prev :
				1 + (prev < d[j] ? (prev < d[j - 1] ? prev :
				d[j - 1]) : (d[j] < d[j - 1] ? d[j] : d[j - 1]));
			prev = cur;
		}
	}
	return d[lb];
}

static unsigned option_group(int c);

/* The closest long option that applies to cmd, if one is close enough. */
static void suggest_option(const struct cmd *cmd, const char *arg)
{
	const struct option *best = NULL;
	size_t i, best_d = 4, d;
	char name[64];

	if (strncmp(arg, "--", 2) != 0)
		return;
	snprintf(name, sizeof(name), "%s", arg + 2);
	name[strcspn(name, "=")] = '\0';
	for (i = 0; long_options[i].name; i++) {
		unsigned group = option_group(long_options[i].val);

		if (group && !(group & cmd->accepts))
			continue;
		d = distance(name, long_options[i].name);
		if (d < best_d) {
			best_d = d;
			best = &long_options[i];
		}
	}
	if (best)
		fprintf(stderr, "%s: did you mean '--%s'?\n", progname,
			best->name);
}

static unsigned option_group(int c)
{
	switch (c) {
	case LO_DB: return OPT_DB;
	case LO_JSON: return OPT_JSON;
	case LO_PRESET: case LO_MAP: case LO_DELIM: case LO_TAG:
	case LO_SOURCE: case LO_ENCODING: return OPT_STAGE;
	case LO_SEQUENCE: case LO_RATE: case LO_CONC: case LO_MAXREQ:
	case LO_DRY: case LO_YES: case LO_FULL: return OPT_PUSH;
	case LO_RETRY_FAILED: return OPT_PUSH;
	case LO_INCLUDE_UNCONFIRMED: return OPT_PUSH;
	case LO_ALLOW_PARTIAL: case LO_MAX_MISSING: return OPT_PUSH;
	case LO_KEYFILE: case LO_INSECURE: return OPT_KEY;
	case LO_TRACE: case LO_TRACE_BODIES: return OPT_KEY;
	case 'o': return OPT_OUTPUT;
	case LO_SEARCH: return OPT_SEARCH;
	case LO_RUNS: return OPT_RUNS;
	case LO_NO_EXAMPLES: return OPT_REPORT;
	case LO_METRICS_FILE: return OPT_METRICS;
	case LO_PING_URL: return OPT_PING;
	}
	return 0;
}

static int parse_number(const char *opt, const char *arg,
			unsigned long long min, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || *end || !*arg || *arg == '-' || v < min) {
		error("%s wants a number >= %llu, not '%s'", opt, min, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* --encoding NAME: a charset iconv knows; -1 when not (reported). */
static int check_encoding(const char *name)
{
	struct transcode t = TRANSCODE_INIT;
	struct err e = ERR_INIT;

	if (transcode_open(&t, name, &e) != MB_OK) {
		error("--encoding: %s", e.msg);
		return -1;
	}
	transcode_close(&t);
	return 0;
}

/* One option; -1 on a usage error (already reported). */
static int take_option(struct options *o, int c, const char *arg)
{
	struct err e = ERR_INIT;
	unsigned long long n;

	switch (c) {
	case LO_DB: o->db_path = arg; break;
	case LO_JSON: o->json = 1; break;
	case 'q': o->quiet = quiet = 1; break;
	case 'v': o->verbose = verbose = 1; break;
	case LO_PRESET: o->preset = arg; break;
	case LO_MAP:
		if (o->noverrides == MAX_LIST) {
			error("too many --map options (at most %d)", MAX_LIST);
			return -1;
		}
		if (mapping_parse_override(arg, &o->overrides[o->noverrides],
					   &e) != MB_OK) {
			error("%s", e.msg);
			return -1;
		}
		o->noverrides++;
		break;
	case LO_DELIM:
		if (strcmp(arg, "tab") == 0 || strcmp(arg, "\\t") == 0)
			arg = "\t";
		if (strlen(arg) != 1) {
			error("--delimiter wants one character (or 'tab'),"
			      " not '%s'", arg);
			return -1;
		}
		o->delimiter = arg[0];
		break;
	case LO_TAG:
		if (o->ntags == MAX_LIST || !*arg) {
			error("--tag wants a name (at most %d tags)", MAX_LIST);
			return -1;
		}
		o->tags[o->ntags++] = arg;
		break;
	case LO_SOURCE:
		if (strcmp(arg, "import") && strcmp(arg, "initial_sync")) {
			error("--source is import or initial_sync, not '%s'",
			      arg);
			return -1;
		}
		o->source = arg;
		break;
	case LO_SEQUENCE: o->sequence = arg; break;
	case LO_RATE: o->rate = arg; break;
	case LO_CONC:
		if (parse_number("--concurrency", arg, 1, &n))
			return -1;
		if (n > 256) {
			error("--concurrency is at most 256");
			return -1;
		}
		o->concurrency = (long)n;
		break;
	case LO_MAXREQ:
		if (parse_number("--max-requests", arg, 1, &n))
			return -1;
		o->max_requests = n;
		break;
	case LO_ENCODING:
		if (check_encoding(arg))
			return -1;
		o->encoding = arg;
		break;
	case LO_DRY: o->dry_run = 1; break;
	case LO_FULL: o->full = 1; break;
	case LO_RETRY_FAILED: o->retry_failed = 1; break;
	case LO_INCLUDE_UNCONFIRMED: o->include_unconfirmed = 1; break;
	case LO_ALLOW_PARTIAL: o->guard.allow_partial = 1; break;
	case LO_MAX_MISSING:
		if (guard_parse_max_missing(arg, &o->guard, &e) != MB_OK) {
			error("%s", e.msg);
			return -1;
		}
		break;
	case LO_YES: o->yes = 1; break;
	case LO_KEYFILE: o->api_key_file = arg; break;
	case LO_INSECURE: o->insecure = 1; break;
	case 'o':
		if (!*arg) {
			error("-o wants a file name (or - for standard"
			      " output)");
			return -1;
		}
		o->output = arg;
		break;
	case LO_SEARCH: o->search = arg; break;
	case LO_RUNS: o->runs = 1; break;
	case LO_NO_EXAMPLES: o->no_examples = 1; break;
	case LO_METRICS_FILE:
		if (!*arg) {
			error("--metrics-file wants a file name");
			return -1;
		}
		o->metrics_file = arg;
		break;
	case LO_PING_URL:
		ping_url_arg = o->ping_url = arg;
		if (!healthping_url_ok(arg)) {
			/* Never echoed: it holds the check's secret. */
			error("--ping-url wants an http:// or https:// URL");
			return -1;
		}
		break;
	case LO_TRACE: o->trace = arg; break;
	case LO_TRACE_BODIES: o->trace_bodies = 1; break;
	default: return -1;
	}
	return 0;
}

/*
 * getopt_long takes unique prefixes, so "--api-key KEY" would be read as
 * --api-key-file and the key echoed in "cannot open key file 'KEY'".  The
 * option that names the key's file must be written in full.
 */
static int key_file_spelt_out(int argc, char **argv)
{
	const char *tok = argv[optind - 1];

	/* --api-key-file F is two words (optarg is the second). */
	if (optarg == argv[optind - 1] && optind >= 2)
		tok = argv[optind - 2];
	(void)argc;
	return strncmp(tok, "--api-key-file", 14) == 0 &&
	       (tok[14] == '\0' || tok[14] == '=');
}

static int parse_options(const struct cmd *cmd, int argc, char **argv,
			 struct options *o)
{
	int c, show_help = 0;

	opterr = 0;
	optind = 1;
	/* The leading ':' makes getopt tell a missing value (':') apart. */
	while ((c = getopt_long(argc, argv, ":qvho:", long_options,
				NULL)) != -1) {
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];

			/* Never echo a value: it may be a key typed by mistake. */
			int name_len = (int)strcspn(bad, "=");

			if (c == ':') {
				error("option '%.*s' needs a value", name_len,
				      bad);
			} else {
				error("unknown option '%.*s'", name_len, bad);
				suggest_option(cmd, bad);
			}
			fprintf(stderr, "%s: see 'meisa-bulk help %s'\n",
				progname, cmd->name);
			return mb_exit_code(MB_EUSAGE);
		}
		if (c == 'h') {
			show_help = 1;
			continue;
		}
		if (c == LO_VERSION) {
			print_version();
			exit(0);
		}
		if (option_group(c) && !(option_group(c) & cmd->accepts)) {
			/* The name only: "--ping-url=URL" holds a secret. */
			error("option '%.*s' does not apply to '%s'",
			      (int)strcspn(argv[optind - 1], "="),
			      argv[optind - 1], cmd->name);
			fprintf(stderr, "%s: see 'meisa-bulk help %s'\n",
				progname, cmd->name);
			return mb_exit_code(MB_EUSAGE);
		}
		if (c == LO_KEYFILE && !key_file_spelt_out(argc, argv)) {
			error("the API key is never a command-line argument"
			      " (it would show in ps and shell history): set"
			      " MEISA_API_KEY, or give --api-key-file FILE in"
			      " full");
			return mb_exit_code(MB_EUSAGE);
		}
		if (take_option(o, c, optarg) != 0)
			return mb_exit_code(MB_EUSAGE);
	}
	if (show_help) {
		fputs(cmd->usage, stdout);
		exit(0);
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return 0;
}

static int stdin_twice(const struct options *o)
{
	int i, seen = 0;

	for (i = 0; i < o->nargs; i++)
		seen += !strcmp(o->args[i], "-");
	return seen > 1;
}

static int check_arguments(const struct cmd *cmd, const struct options *o)
{
	int wants_files = cmd->fn == cmd_stage || cmd->fn == cmd_import;

	if (wants_files && !o->nargs) {
		error("'%s' needs at least one input file", cmd->name);
		fputs(cmd->usage, stderr);
		return mb_exit_code(MB_EUSAGE);
	}
	if (wants_files && stdin_twice(o)) {
		error("'-' (standard input) can be given once");
		return mb_exit_code(MB_EUSAGE);
	}
	if (!wants_files && cmd->fn != cmd_export && cmd->fn != cmd_help &&
	    o->nargs) {
		error("'%s' takes no arguments ('%s' given)", cmd->name,
		      o->args[0]);
		return mb_exit_code(MB_EUSAGE);
	}
	if (o->trace_bodies && !o->trace) {
		error("--trace-bodies needs --trace FILE");
		return mb_exit_code(MB_EUSAGE);
	}
	if (o->rate) {
		struct ratelimit rl = RATELIMIT_INIT;
		struct err e = ERR_INIT;

		if (ratelimit_parse(&rl, o->rate, &e) != MB_OK) {
			error("%s", e.msg);
			return mb_exit_code(MB_EUSAGE);
		}
		ratelimit_release(&rl);
	}
	return 0;
}

/*
 * Git's close_stdout: output that could not be written (a full disk, an
 * I/O error) fails a command that otherwise succeeded.  A pipe closed by
 * its reader is no error for text (`status | head -1`), but the one JSON
 * object of --json is the result a script waits for: losing it is exit
 * 74, so that `push --json | consumer` never exits 0 with its result lost
 * (said on stderr when stderr is still open).
 */
static int close_stdout(int status, int json)
{
	int failed = fflush(stdout) != 0, saved = errno;
	/* errno may be stale: an earlier write (export's) saw the error. */
	int gone = failed || ferror(stdout) ? stdout_reader_gone() : 0;

	failed |= ferror(stdout) != 0;
	/* EBADF: started with stdout closed and nothing written to it. */
	if (fclose(stdout) != 0 && !failed && errno != EBADF) {
		failed = 1;
		saved = errno;
	}
	if (!failed || status != 0)
		return status;
	if (gone)
		saved = EPIPE;
	if (saved == EPIPE && !json)
		return status;
	if (fcntl(STDERR_FILENO, F_GETFD) != -1)
		error("cannot write to standard output: %s",
		      strerror(saved ? saved : EIO));
	return mb_exit_code(MB_EIO);
}

/* --ping-url: a ping that fails is a warning, never the run's failure. */
static void send_ping(const struct options *o, int what)
{
	struct err e = ERR_INIT;

	if (o->ping_url && healthping_send(o->ping_url, what, &e) != MB_OK)
		warning("%s", e.msg);
}

/* --metrics-file at the end of a command, from the staging file's status. */
static void final_metrics(const struct options *o)
{
	struct db db = DB_INIT;
	struct err e = ERR_INIT;

	if (!o->metrics_file)
		return;
	if (db_open(&db, o->db_path, DB_READER, &e) == MB_OK)
		write_metrics(&db, o->metrics_file, NULL);
	else
		warning("cannot write metrics file '%s': %s", o->metrics_file,
			e.msg);
	db_close(&db);
}

int main(int argc, char **argv)
{
	struct options o;
	const struct cmd *cmd;
	int status;

	memset(&o, 0, sizeof(o));
	o.db_path = "meisa-bulk.db";
	o.guard = (struct guard_opts)GUARD_OPTS_INIT;
	if (db_global_init() != MB_OK) {
		error("cannot initialise SQLite");
		return mb_exit_code(MB_EINTERNAL);
	}
	stderr_tty = isatty(STDERR_FILENO);
	/* A closed pipe must be EPIPE, seen and judged (close_stdout). */
	signal(SIGPIPE, SIG_IGN);
	saved_argc = argc;
	saved_argv = argv;
	if (argc < 2) {
		print_overview(stderr);
		return mb_exit_code(MB_EUSAGE);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		print_version();
		return 0;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		print_overview(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		size_t i;

		error("unknown command '%s'", argv[1]);
		for (i = 0; i < NCOMMANDS; i++)
			if (distance(argv[1], commands[i].name) <= 2)
				fprintf(stderr, "%s: did you mean '%s'?\n",
					progname, commands[i].name);
		return mb_exit_code(MB_EUSAGE);
	}
	status = parse_options(cmd, argc - 1, argv + 1, &o);
	if (!status)
		status = check_arguments(cmd, &o);
	if (!status) {
		catch_signals();
		send_ping(&o, HEALTHPING_START);
		status = cmd->fn(&o);
		final_metrics(&o);
		status = close_stdout(status, o.json);
		send_ping(&o, status);
	} else {
		status = close_stdout(status, o.json);
	}
	while (o.noverrides)
		mapping_override_release(&o.overrides[--o.noverrides]);
	return status;
}
