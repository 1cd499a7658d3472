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
