// SPDX-License-Identifier: Apache-2.0
#include "clock.h"

uint64_t clock_ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * CLOCK_NS_PER_SEC + (uint64_t)ts->tv_nsec;
}

uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return clock_ts_ns(&ts);
}

uint64_t clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t clock_mono_ms(void)
{
	return clock_mono_ns() / CLOCK_NS_PER_MS;
}

double clock_mono_s(void)
{
	return (double)clock_mono_ns() / CLOCK_NS_PER_SEC;
}

uint64_t clock_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t clock_real_ms(void)
{
	return clock_real_ns() / CLOCK_NS_PER_MS;
}
