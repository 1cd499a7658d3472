/*
 * clock: the two clocks meisa-bulk reads, and the bridge between them.
 *
 * Pacing, backoff and give-up run on CLOCK_MONOTONIC (clock_mono_ms): a
 * wall clock stepped by NTP or by hand must neither stall sending nor make
 * a run give up.  Linux's monotonic clock also stands still during a system
 * suspend.  Send times persisted in the staging file are wall-clock
 * (clock_wall_ms), since they must mean something to the next process;
 * clock_wall_to_mono maps one back onto this process's monotonic clock.
 *
 * clock_iso writes a wall-clock time as the staging file and Meisa write
 * times: ISO 8601, UTC, milliseconds ("2026-12-02T16:26:55.123Z").
 *
 * Library code that needs testable time takes now_ms as an argument (see
 * ratelimit.h, giveup.h) instead of reading a clock, so unit tests inject
 * hours of time in milliseconds without sleeping.
 */
#ifndef MB_CLOCK_H
#define MB_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary origin). */
int64_t clock_mono_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_ms(void);

/*
 * A persisted wall-clock time t_wall_ms as a monotonic time, given both
 * clocks read now.  A time in the future (the wall clock was stepped back
 * since it was recorded) is clamped to mono_now_ms: the send happened, at
 * the latest now, and must keep counting in the windows without stalling
 * them for the size of the step.
 */
int64_t clock_wall_to_mono(int64_t t_wall_ms, int64_t wall_now_ms,
			   int64_t mono_now_ms);

/* Room for clock_iso's text, whatever the year, and its NUL. */
#define CLOCK_ISO_MAX 32

/*
 * wall_ms (milliseconds since the Unix epoch, before it too) as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" into out.  A time gmtime cannot represent
 * gives the epoch.  Never fails.
 */
void clock_iso(int64_t wall_ms, char out[CLOCK_ISO_MAX]);

#endif
