/*
 * clock: CLOCK_MONOTONIC for durations, CLOCK_REALTIME for what is stored.
 */
#include "clock.h"

#include <time.h>

static int64_t read_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

int64_t clock_wall_ms(void)
{
	return read_ms(CLOCK_REALTIME);
}

int64_t clock_wall_to_mono(int64_t t_wall_ms, int64_t wall_now_ms,
			   int64_t mono_now_ms)
{
	if (t_wall_ms >= wall_now_ms)
		return mono_now_ms;
	return mono_now_ms - (wall_now_ms - t_wall_ms);
}

void clock_iso(int64_t wall_ms, char out[CLOCK_ISO_MAX])
{
	int64_t secs = wall_ms / 1000, ms = wall_ms % 1000;
	time_t t;
	struct tm tm;
	size_t n;

	if (ms < 0) {            /* before the epoch: floor, not truncate */
		ms += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm)) {
		t = 0;
		ms = 0;
		gmtime_r(&t, &tm);
	}
	/* Digits by hand: snprintf cannot know the fields fit. */
	n = strftime(out, CLOCK_ISO_MAX - 5, "%Y-%m-%dT%H:%M:%S", &tm);
	out[n++] = '.';
	out[n++] = (char)('0' + ms / 100);
	out[n++] = (char)('0' + ms / 10 % 10);
	out[n++] = (char)('0' + ms % 10);
	out[n++] = 'Z';
	out[n] = '\0';
}
