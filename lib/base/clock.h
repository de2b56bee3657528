/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The clocks flowctl reads, as one count of nanoseconds (or milliseconds,
 * or seconds for timing loops): CLOCK_MONOTONIC for intervals and
 * deadlines (the BPF side stamps flows with bpf_ktime_get_ns(), the same
 * clock), CLOCK_REALTIME for wall-clock stamps.
 */
#ifndef FLOWCTL_CLOCK_H
#define FLOWCTL_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_NS_PER_SEC 1000000000ULL
#define CLOCK_NS_PER_MS 1000000ULL

/* TS as nanoseconds (a time before 1970 is not expected: it wraps). */
uint64_t clock_ts_ns(const struct timespec *ts);

/* Clock ID now, in nanoseconds. */
uint64_t clock_ns(clockid_t id);

/* CLOCK_MONOTONIC now: nanoseconds, milliseconds, seconds. */
uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);
double clock_mono_s(void);

/* CLOCK_REALTIME now, in nanoseconds and milliseconds since 1970. */
uint64_t clock_real_ns(void);
uint64_t clock_real_ms(void);

#endif
