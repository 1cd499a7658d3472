/*
 * clock: CLOCK_MONOTONIC for durations, CLOCK_REALTIME for what is stored.
 */
#include "clock.h"

#include <stdio.h>
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
	snprintf(out, CLOCK_ISO_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)ms);
}
