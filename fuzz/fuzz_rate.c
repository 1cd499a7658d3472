/*
 * fuzz_rate: libFuzzer target for the client-side limiter and the retry
 * delays: every --rate spec a user can type, and any sequence of sends,
 * clock jumps, 429s (with any Retry-After) and successes.
 *
 * Input: the --rate spec up to the first newline, then operations, one
 * byte each (some take two more bytes of argument):
 *   0  time passes (argument: ms)
 *   1  a client that obeys ratelimit_wait_ms sends: it waits as told,
 *      then records the send
 *   2  a 429 arrives (argument: Retry-After ms, or none if 0xffff)
 *   3  a success arrives
 *   4  ratelimit_estimate_ms for (argument, up to 1023) more requests
 *   5  backoff_delay_ms for attempt (argument)
 *
 * The property checked, or the target aborts: in the sends of an obedient
 * client, no window of a parsed spec ever holds more than its limit (the
 * server enforcing the same windows never answers 429), and no wait,
 * estimate or delay is negative or beyond its bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "ratelimit.h"

#define MAX_SENDS 4096

static void fail(const char *what, long long a, long long b)
{
	fprintf(stderr, "fuzz_rate: %s (%lld, %lld)\n", what, a, b);
	abort();
}

static unsigned arg(const uint8_t **p, const uint8_t *end)
{
	unsigned v = 0;

	if (end - *p >= 2) {
		v = (unsigned)(*p)[0] << 8 | (*p)[1];
		*p += 2;
	}
	return v;
}

/* Sends in (t - span, t] for every window, at each send. */
static void check_windows(const struct ratelimit *rl, const int64_t *sends,
			  size_t n)
{
	size_t w, i, j;

	for (w = 0; w < rl->nwindows; w++) {
		const struct ratelimit_window *win = &rl->windows[w];

		for (i = 0, j = 0; i < n; i++) {
			while (sends[j] <= sends[i] - win->span_ms)
				j++;
			if (i - j + 1 > win->limit)
				fail("a window holds more than its limit",
				     (long long)(i - j + 1), win->limit);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int64_t sends[MAX_SENDS];
	struct ratelimit rl = RATELIMIT_INIT;
	struct err e = ERR_INIT;
	const uint8_t *nl = memchr(data, '\n', size);
	const uint8_t *p, *end = data + size;
	size_t speclen = nl ? (size_t)(nl - data) : size, n = 0;
	uint64_t rng = BACKOFF_RNG_INIT;
	int64_t now = 1700000000000, wait;
	char spec[256];
	unsigned v;

	if (speclen >= sizeof(spec))
		return 0;
	memcpy(spec, data, speclen);
	spec[speclen] = '\0';
	if (ratelimit_parse(&rl, spec, &e) != MB_OK) {
		if (e.rc != MB_EUSAGE || !strstr(e.msg, "rate"))
			fail("a bad spec without a usage message", e.rc, 0);
		ratelimit_release(&rl);
		return 0;
	}
	for (p = nl ? nl + 1 : end; p < end && n < MAX_SENDS;) {
		switch (*p++ % 6) {
		case 0:
			now += arg(&p, end);
			break;
		case 1:
			wait = ratelimit_wait_ms(&rl, now);
			if (wait < 0 || wait > (int64_t)24 * 3600 * 1000 * 400)
				fail("wait out of range", wait, 0);
			now += wait;
			if (ratelimit_wait_ms(&rl, now) != 0)
				fail("still waiting after the wait", now, 0);
			ratelimit_record(&rl, now);
			sends[n++] = now;
			break;
		case 2:
			v = arg(&p, end);
			ratelimit_on_429(&rl, now, v == 0xffff ? -1 :
					 (int64_t)v * 10);
			break;
		case 3:
			ratelimit_on_success(&rl);
			break;
		case 4:
			/* Simulated send by send: keep n small, and fast. */
			v = arg(&p, end) & 0x3ff;
			wait = ratelimit_estimate_ms(&rl, v, now);
			if (wait < 0)
				fail("negative estimate", wait, v);
			break;
		default:
			v = arg(&p, end);
			wait = backoff_delay_ms(v, 500, 30000, &rng);
			if (wait < 0 || wait > 30000)
				fail("backoff out of range", wait, v);
			break;
		}
	}
	check_windows(&rl, sends, n);
	ratelimit_release(&rl);
	return 0;
}

/* replay.c calls it; libFuzzer too when it is defined. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}
