/* Clocks: a monotonic clock for durations and deadlines, and the wall clock in ISO-8601 for
 * logs and results. Durations never use the wall clock, which can jump.
 *
 *     uint64_t t0 = clock_now_ns();
 *     ...;
 *     double secs = clock_since_s(t0);
 */
#ifndef SHOAL_COMMON_CLOCK_H
#define SHOAL_COMMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds since an arbitrary start (CLOCK_MONOTONIC). */
uint64_t clock_now_ns(void);

/* Monotonic seconds, as a double. */
double clock_now_s(void);

/* Seconds elapsed since t0_ns, a value of clock_now_ns(). */
double clock_since_s(uint64_t t0_ns);

/* CPU time this thread has used, in nanoseconds (CLOCK_THREAD_CPUTIME_ID): for benches on a
 * shared machine, where the monotonic clock also counts the time other processes took. */
uint64_t clock_thread_cpu_ns(void);

/* Writes the current UTC wall time as "2026-11-22T10:31:07.123Z" into buf (>= 25 bytes). */
void clock_iso8601(char *buf, size_t buf_bytes);

/* Sleeps for about ms milliseconds; a signal may end the sleep early, which lets loops
 * notice a stop request. */
void clock_sleep_ms(uint32_t ms);

#endif
