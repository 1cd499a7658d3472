/*
 * meisa-sandbox: a local Meisa API server for tests, demos and rehearsals.
 *
 * This file only parses the options, starts the server (lib/sandbox.c) and
 * waits for SIGINT, SIGTERM or SIGHUP; see `meisa-sandbox --help`.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "sandbox.h"
#include "sandbox_rate.h"
#include "sandbox_spec.h"
#include "version.h"
#include "xalloc.h"

#define PROG "meisa-sandbox"

static const char usage_text[] =
"usage: " PROG " [OPTION]...\n"
"\n"
"Serve the Meisa REST API (shared/meisa-api.md) on\n"
"http://127.0.0.1:PORT/api/v1 with state in SQLite and fault injection,\n"
"until SIGINT, SIGTERM or SIGHUP (then all state is committed, exit\n"
"status 0).\n"
"\n"
"Server:\n"
"  --port N              port on 127.0.0.1; 0 (default) picks a free one\n"
"  --port-file F         write the port (decimal, newline) to F, atomically,\n"
"                        once listening\n"
"  --db F                keep state and the request log in SQLite file F\n"
"                        (default: in memory); reopening F keeps the state\n"
"  --threads N           HTTP worker threads (default 1, the fastest: all\n"
"                        database work is serialised anyway)\n"
"  --commit-ms N         commit the open transaction every N ms (default\n"
"                        20): other readers of the db see an answered\n"
"                        request within about N ms, and at once after\n"
"                        GET /api/v1/_sandbox/flush\n"
"  -v, --verbose         let libmicrohttpd report its own errors\n"
"\n"
"Data:\n"
"  --key KEY[=SCOPE,...] accept API key KEY (repeatable), with the scopes\n"
"                        listed (none listed: every scope; \"KEY=\": none).\n"
"                        Scopes: contacts:read contacts:write events:track\n"
"                        sequences:read sequences:enroll emails:trigger\n"
"                        tags:write.  A key starting with meisa_live_ is a\n"
"                        live key, any other a test key.  The log records\n"
"                        key1, key2... in this order, never the key.\n"
"                        Without --key: the one key " SANDBOX_DEFAULT_KEY "\n"
"                        with every scope.  Sandbox keys are not secrets.\n"
"  --sequence SLUG[=active|paused]\n"
"                        create or update a sequence (repeatable)\n"
"  --unsubscribed FILE   addresses on Meisa's unsubscribed list, one a line\n"
"                        ('#' comments; repeatable)\n"
"  --trigger KEY         a transactional email trigger known to\n"
"                        /emails/trigger/ (repeatable)\n"
"\n"
"Rate limits (per key, sliding windows; refused requests do not count):\n"
"  --rate SPEC           N/s, N/m, N/h, N/d or N/Ks windows, comma-separated,\n"
"                        or none (default " SANDBOX_RATE_DEFAULT ", Meisa's)\n"
"  --rate-storm START:DURATION\n"
"                        answer every request 429 for DURATION seconds,\n"
"                        starting START seconds after the server starts\n"
"  --no-retry-after      send 429 without the Retry-After header\n"
"\n"
"Faults (probabilities from 0 to 1, or percentages such as 5%):\n"
"  --fail-rate P         answer 500, 502 (an HTML page) or 503 before\n"
"                        handling the request\n"
"  --drop-rate P         close the connection without an answer; the request\n"
"                        is not applied\n"
"  --lost-ack-rate P     apply the request, then close the connection\n"
"                        without an answer\n"
"  --seed N              seed of the fault draws (default: random, printed)\n"
"  --fault-paths PREFIX  draw faults only for paths starting with PREFIX\n"
"                        (relative to /api/v1, e.g. /contacts/; repeatable;\n"
"                        default: every path)\n"
"  --latency-ms N        delay every answer by N ms (without holding a\n"
"                        worker thread)\n"
"\n"
"Every request is logged in the db's requests table (time, method, path,\n"
"query, key label, status, body size, fault, emails concerned, body).\n"
"Requests to /api/v1/_sandbox/ (no key, no faults, not logged):\n"
"  GET /api/v1/_sandbox/flush   commit now\n"
"\n"
"  -h, --help            show this help\n"
"  --version             show the version\n";

enum {
	OPT_PORT = 256, OPT_PORT_FILE, OPT_DB, OPT_THREADS, OPT_COMMIT_MS,
	OPT_KEY, OPT_SEQUENCE, OPT_UNSUBSCRIBED, OPT_TRIGGER, OPT_RATE,
	OPT_RATE_STORM, OPT_NO_RETRY_AFTER, OPT_FAIL_RATE, OPT_DROP_RATE,
	OPT_LOST_ACK_RATE, OPT_SEED, OPT_FAULT_PATHS, OPT_LATENCY_MS,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "port-file", required_argument, NULL, OPT_PORT_FILE },
	{ "db", required_argument, NULL, OPT_DB },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "commit-ms", required_argument, NULL, OPT_COMMIT_MS },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "sequence", required_argument, NULL, OPT_SEQUENCE },
	{ "unsubscribed", required_argument, NULL, OPT_UNSUBSCRIBED },
	{ "trigger", required_argument, NULL, OPT_TRIGGER },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "rate-storm", required_argument, NULL, OPT_RATE_STORM },
	{ "no-retry-after", no_argument, NULL, OPT_NO_RETRY_AFTER },
	{ "fail-rate", required_argument, NULL, OPT_FAIL_RATE },
	{ "drop-rate", required_argument, NULL, OPT_DROP_RATE },
	{ "lost-ack-rate", required_argument, NULL, OPT_LOST_ACK_RATE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "fault-paths", required_argument, NULL, OPT_FAULT_PATHS },
	{ "latency-ms", required_argument, NULL, OPT_LATENCY_MS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* A growable list of borrowed argv strings. */
struct list {
	const char **items;
	size_t count;
};

struct options {
	struct sandbox_config cfg;
	struct list keys, sequences, unsubscribed, triggers, fault_paths;
	const char *port_file;
};

static void list_push(struct list *l, const char *s)
{
	l->items = xrealloc(l->items, (l->count + 1) * sizeof(*l->items));
	l->items[l->count++] = s;
}

static void options_release(struct options *o)
{
	free(o->keys.items);
	free(o->sequences.items);
	free(o->unsubscribed.items);
	free(o->triggers.items);
	free(o->fault_paths.items);
}

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* An unsigned decimal option value at most max. */
static int parse_number(const char *opt, const char *arg, uint64_t max,
			uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (!*arg || *end || errno || arg[0] == '-' || v > max) {
		error("%s '%s': expected a whole number from 0 to %" PRIu64,
		      opt, arg, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_fraction(const char *opt, const char *arg, double *out)
{
	struct err e = ERR_INIT;

	if (sandbox_fraction_parse(arg, out, &e) == MB_OK)
		return 0;
	error("%s: %s", opt, e.msg);
	return -1;
}

/* Options with a numeric value; 0 ok, -1 bad value, 1 not one of them. */
static int number_option(struct options *o, int c, const char *arg)
{
	struct sandbox_config *cfg = &o->cfg;
	uint64_t v = 0;

	switch (c) {
	case OPT_PORT:
		if (parse_number("--port", arg, 65535, &v))
			return -1;
		cfg->port = (unsigned)v;
		return 0;
	case OPT_THREADS:
		if (parse_number("--threads", arg, 64, &v))
			return -1;
		cfg->threads = (unsigned)v;
		return 0;
	case OPT_COMMIT_MS:
		if (parse_number("--commit-ms", arg, 60000, &v))
			return -1;
		cfg->commit_ms = (long)v;
		return 0;
	case OPT_LATENCY_MS:
		if (parse_number("--latency-ms", arg, 600000, &v))
			return -1;
		cfg->latency_ms = (long)v;
		return 0;
	case OPT_SEED:
		if (parse_number("--seed", arg, UINT64_MAX, &v))
			return -1;
		cfg->seed = v;
		cfg->seed_set = 1;
		return 0;
	case OPT_FAIL_RATE:
		return parse_fraction("--fail-rate", arg, &cfg->fail_rate);
	case OPT_DROP_RATE:
		return parse_fraction("--drop-rate", arg, &cfg->drop_rate);
	case OPT_LOST_ACK_RATE:
		return parse_fraction("--lost-ack-rate", arg,
				      &cfg->lost_ack_rate);
	}
	return 1;
}

/* 0 to go on, else the exit status (0 for --help and --version). */
static int parse_options(struct options *o, int argc, char **argv,
			 int *exit_status)
{
	struct sandbox_config *cfg = &o->cfg;
	int c, r;

	while ((c = getopt_long(argc, argv, "hv", long_options, NULL)) != -1) {
		if ((r = number_option(o, c, optarg)) <= 0) {
			if (r < 0)
				goto usage;
			continue;
		}
		switch (c) {
		case OPT_PORT_FILE: o->port_file = optarg; break;
		case OPT_DB: cfg->db_path = optarg; break;
		case OPT_KEY: list_push(&o->keys, optarg); break;
		case OPT_SEQUENCE: list_push(&o->sequences, optarg); break;
		case OPT_UNSUBSCRIBED: list_push(&o->unsubscribed, optarg);
			break;
		case OPT_TRIGGER: list_push(&o->triggers, optarg); break;
		case OPT_FAULT_PATHS: list_push(&o->fault_paths, optarg);
			break;
		case OPT_RATE: cfg->rate = optarg; break;
		case OPT_RATE_STORM: cfg->rate_storm = optarg; break;
		case OPT_NO_RETRY_AFTER: cfg->no_retry_after = 1; break;
		case 'v': cfg->verbose = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			*exit_status = 0;
			return 1;
		case OPT_VERSION:
			puts(PROG " " MB_VERSION);
			*exit_status = 0;
			return 1;
		default:
			goto usage;
		}
	}
	if (optind < argc) {
		error("unexpected argument '%s'", argv[optind]);
		goto usage;
	}
	cfg->keys = o->keys.items;
	cfg->nkeys = o->keys.count;
	cfg->sequences = o->sequences.items;
	cfg->nsequences = o->sequences.count;
	cfg->unsubscribed_files = o->unsubscribed.items;
	cfg->nunsubscribed_files = o->unsubscribed.count;
	cfg->triggers = o->triggers.items;
	cfg->ntriggers = o->triggers.count;
	cfg->fault_paths = o->fault_paths.items;
	cfg->nfault_paths = o->fault_paths.count;
	return 0;
usage:
	fputs("Try '" PROG " --help' for more information.\n", stderr);
	*exit_status = 64;
	return 1;
}

/* Write the port to path through a temporary file and a rename. */
static int write_port_file(const char *path, unsigned port)
{
	size_t n = strlen(path) + 32;
	char *tmp = xmalloc(n);
	FILE *f;
	int ok;

	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	ok = f && fprintf(f, "%u\n", port) > 0;
	ok = f && !fclose(f) && ok && !rename(tmp, path);
	if (!ok) {
		error("cannot write the port file '%s': %s", path,
		      strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok ? 0 : -1;
}

/* Wait for a stop signal (blocked in every thread), watching health. */
static enum mb_rc serve(struct sandbox *sb, const sigset_t *stop,
			struct err *e)
{
	struct timespec tick = { 0, 250 * 1000 * 1000 };

	for (;;) {
		if (sigtimedwait(stop, NULL, &tick) > 0)
			return MB_OK;
		if (sandbox_check(sb, e) != MB_OK)
			return e->rc;
	}
}

int main(int argc, char **argv)
{
	struct options o = { SANDBOX_CONFIG_INIT, { NULL, 0 }, { NULL, 0 },
		{ NULL, 0 }, { NULL, 0 }, { NULL, 0 }, NULL };
	struct sandbox *sb = NULL;
	struct err e = ERR_INIT;
	sigset_t stop;
	enum mb_rc rc, rc_close;
	int status = 0;

	if (parse_options(&o, argc, argv, &status))
		goto out;
	/* Block the stop signals before any thread exists, so that only
	 * sigtimedwait() below ever receives them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = sandbox_open(&sb, &o.cfg, &e);
	if (rc != MB_OK) {
		error("%s", e.msg);
		status = mb_exit_code(rc);
		goto out;
	}
	if (o.cfg.fail_rate > 0 || o.cfg.drop_rate > 0 ||
	    o.cfg.lost_ack_rate > 0)
		fprintf(stderr, PROG ": faults: fail %g, drop %g, lost-ack "
			"%g, seed %" PRIu64 "\n", o.cfg.fail_rate,
			o.cfg.drop_rate, o.cfg.lost_ack_rate,
			sandbox_seed(sb));
	if (o.port_file && write_port_file(o.port_file, sandbox_port(sb)))
		status = 74;
	else
		fprintf(stderr, PROG ": listening on http://127.0.0.1:%u/api/v1"
			"\n", sandbox_port(sb));
	if (!status && (rc = serve(sb, &stop, &e)) != MB_OK) {
		error("%s", e.msg);
		status = mb_exit_code(rc);
	}
	rc_close = sandbox_close(sb, &e);
	if (rc_close != MB_OK && !status) {
		error("%s", e.msg);
		status = mb_exit_code(rc_close);
	}
out:
	options_release(&o);
	return status;
}
